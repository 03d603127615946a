"""A fake Zalo Bot Platform API server on loopback, for whole-dialog tests.

``FakeZalo`` speaks the Zalo Bot API as ``/work/shared/docs/platforms.md`` describes it:
``POST /bot<token>/<method>`` with a JSON body, the ``{"ok", "result"}`` envelope,
``getUpdates`` handing out **one** event object per call and answering HTTP 408
"Request timeout" when a long poll stays idle, webhook deliveries carrying
``X-Bot-Api-Secret-Token``, 2000-character texts and photos sent as URLs. Point the bot's
``[zalo] api_url`` at ``zalo.base_url``, inject what users do (``user_sends_text``,
``user_sends_photo``) and read what the bot sent from ``zalo.sent``.

Failures can be scripted (``fail_next``, ``block``). Photos users send are served by the
fake itself at their ``photo_url``; photos the bot sends are fetched from the URL it gave
(so a signed link that does not work shows up as a failed send, as on the real service).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlparse

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_LIMIT = 2000
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(slots=True)
class Sent:
    """One successful send as the fake recorded it (``photo`` holds the fetched bytes)."""

    method: str
    chat_id: str
    text: str | None
    photo_url: str | None
    photo: bytes | None
    message_id: str
    at: float
    params: JSONDict


@dataclass(slots=True)
class WebhookDelivery:
    message_id: str | None
    status: int  # 0: no HTTP answer
    error: str | None = None


@dataclass(slots=True)
class _Script:
    method: str | None
    chat_id: str | None
    remaining: int
    status: int
    description: str
    retry_after: int | None = None


class _ApiError(Exception):
    def __init__(self, status: int, description: str, extra: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.extra = status, description, extra or {}


class _Unset(enum.Enum):
    TOKEN = 0


_UNSET = _Unset.TOKEN
Handler = Callable[[JSONDict], Awaitable[Any]]


def _body(status: int, description: str, extra: JSONDict | None = None) -> JSONDict:
    return {"ok": False, "error_code": status, "description": description, **(extra or {})}


class FakeZalo:
    """A loopback Zalo Bot API; use as ``async with FakeZalo() as zalo:``."""

    def __init__(self, token: str = "1234567890123456789:zalo-test-secret", *,
                 account_name: str = "binhyen_zalo_test", host: str = "127.0.0.1",
                 port: int = 0, fetch_photos: bool = True, webhook_timeout: float = 15.0) -> None:
        self.token = token
        self.bot_id = token.split(":", 1)[0]
        self.account_name = account_name
        self.host, self._requested_port, self.port = host, port, 0
        self.fetch_photos = fetch_photos
        self._webhook_timeout = webhook_timeout
        # Records.
        self.sent: list[Sent] = []
        self.chat_actions: list[tuple[str, str]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, JSONDict]] = []
        # State.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._webhook_ever = False
        self._webhook_updated = 0
        self._pending: list[JSONDict] = []
        self._failures: list[_Script] = []
        self._blocked: set[str] = set()
        self._photos: dict[str, tuple[bytes, str]] = {}
        self._ids = itertools.count(1)
        self._updates_event = asyncio.Event()
        self._records_event = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me, "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info, "sendMessage": self._send_message,
            "sendPhoto": self._send_photo, "sendSticker": self._send_sticker,
            "sendChatAction": self._send_chat_action}

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """The ``[zalo] api_url`` for the bot (the token is appended to it)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def http(self) -> aiohttp.ClientSession:
        """The fake's own HTTP client (tests use it to call the bot's routes)."""
        assert self._client is not None, "FakeZalo is not running"
        return self._client

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/photos/{name}", self._handle_photo)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._closing.set()
        self._notify(updates=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ scripting

    def fail_next(self, method: str | None = "sendMessage", status: int = 500,
                  description: str = "Internal Server Error", count: int = 1,
                  chat_id: str | None = None, retry_after: int | None = None) -> None:
        """The next ``count`` calls of ``method`` (any if None) answer ``status``."""
        self._failures.append(_Script(method, chat_id, count, status, description, retry_after))

    def block(self, chat_id: str) -> None:
        """The user blocked the bot: sends to ``chat_id`` answer 403."""
        self._blocked.add(chat_id)

    # ------------------------------------------------------------------ reading records

    def sent_to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [s.text or "" for s in self.sent if chat_id is None or s.chat_id == chat_id]

    async def wait_for(self, predicate: Callable[[], bool],
                       timeout: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checked whenever something is recorded."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met; last sends: {self.texts()[-3:]!r}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._records_event.wait(), remaining)

    # ------------------------------------------------------------------ injecting events

    def _message(self, user_id: str, display_name: str, chat_id: str | None,
                 chat_type: str, message_id: str | None) -> JSONDict:
        return {"message_id": message_id or f"{next(self._ids):032x}",
                "date": int(time.time() * 1000), "message_type": "CHAT_MESSAGE",
                "chat": {"id": chat_id or user_id, "chat_type": chat_type},
                "from": {"id": user_id, "display_name": display_name, "is_bot": False}}

    async def user_sends_text(self, user_id: str, text: str, display_name: str = "Lan", *,
                              chat_id: str | None = None, chat_type: str = "PRIVATE",
                              message_id: str | None = None, wrap: bool = True) -> str:
        """A user types ``text``; returns the event's message_id."""
        msg = self._message(user_id, display_name, chat_id, chat_type, message_id)
        msg["text"] = text
        return await self.inject({"event_name": "message.text.received", "message": msg},
                                 wrap=wrap)

    async def user_sends_photo(self, user_id: str, data: bytes, mime: str = "image/jpeg",
                               caption: str = "", display_name: str = "Lan") -> str:
        """A user sends a photo: served by this fake at the event's ``photo_url``."""
        msg = self._message(user_id, display_name, None, "PRIVATE", None)
        name = f"{msg['message_id']}.jpg"
        self._photos[name] = (data, mime)
        msg["photo_url"] = f"http://{self.host}:{self.port}/photos/{name}"
        if caption:
            msg["caption"] = caption
        return await self.inject({"event_name": "message.image.received", "message": msg})

    async def user_sends_sticker(self, user_id: str, display_name: str = "Lan") -> str:
        msg = self._message(user_id, display_name, None, "PRIVATE", None)
        msg["sticker"] = "abc123"
        return await self.inject({"event_name": "message.sticker.received", "message": msg})

    async def inject(self, event: JSONDict, *, wrap: bool = True) -> str:
        """Queue ``event`` for getUpdates, or POST it to the webhook (wrapped in ``result``
        like the published samples, or bare with ``wrap=False``). Returns its message_id."""
        mid = str((event.get("message") or {}).get("message_id", ""))
        if self.webhook_url is not None:
            await self.post(event if not wrap else {"ok": True, "result": event})
            return mid
        self._pending.append(event)
        self._notify(updates=True)
        return mid

    async def post(self, body: JSONDict, secret: str | _Unset | None = _UNSET,
                   url: str | None = None) -> int:
        """POST ``body`` to the webhook as given; returns the HTTP status (0: no answer).

        ``secret`` defaults to the registered secret; a string sends another one, None
        sends no header at all.
        """
        target = url or self.webhook_url
        assert target is not None and self._client is not None, "no webhook set"
        headers = {"Content-Type": "application/json"}
        header = self.webhook_secret if isinstance(secret, _Unset) else secret
        if header is not None:
            headers[SECRET_HEADER] = header
        event = body.get("result", body) if isinstance(body.get("result"), dict) else body
        mid = (event.get("message") or {}).get("message_id")
        status, error = 0, None
        try:
            async with self._client.post(target, data=json.dumps(body), headers=headers,
                                         timeout=aiohttp.ClientTimeout(
                                             total=self._webhook_timeout)) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(WebhookDelivery(mid, status, error))
        self._notify()
        return status

    # ------------------------------------------------------------------ HTTP

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(_body(401, "Unauthorized"), status=401)
        method = request.match_info["method"]
        self.calls[method] += 1
        self._notify()
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response(_body(404, "Not Found"), status=404)
        if request.method != "POST" and method != "getMe":
            return web.json_response(_body(405, "Method Not Allowed"), status=405)
        try:
            params = await self._params(request)
            self.requests.append((method, params))
            chat = str(params["chat_id"]) if "chat_id" in params else None
            script = self._take_script(method, chat)
            if script is not None:
                extra = {"parameters": {"retry_after": script.retry_after}} \
                    if script.retry_after else None
                raise _ApiError(script.status, script.description, extra)
            if chat is not None and chat in self._blocked:
                raise _ApiError(403, "Forbidden: user has blocked the bot")
            if method == "getUpdates":
                result = await self._get_updates(params, request)
            else:
                result = await handler(params)
        except _ApiError as err:
            return web.json_response(_body(err.status, err.description, err.extra),
                                     status=err.status)
        body: JSONDict = {"ok": True}
        if result is not None:
            body["result"] = result
        return web.json_response(body)

    async def _handle_photo(self, request: web.Request) -> web.Response:
        item = self._photos.get(request.match_info["name"])
        if item is None:
            raise web.HTTPNotFound()
        return web.Response(body=item[0], content_type=item[1])

    async def _params(self, request: web.Request) -> JSONDict:
        if not request.can_read_body:
            return {}
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError as exc:
            raise _ApiError(400, "Bad Request: invalid JSON body") from exc
        if not isinstance(body, dict):
            raise _ApiError(400, "Bad Request: JSON object expected")
        return body

    def _take_script(self, method: str, chat: str | None) -> _Script | None:
        for s in self._failures:
            if (s.method in (None, method)) and (s.chat_id in (None, chat)):
                s.remaining -= 1
                if s.remaining <= 0:
                    self._failures.remove(s)
                return s
        return None

    def _notify(self, updates: bool = False) -> None:
        # Swap in a fresh event so every waiter wakes once per change.
        if updates:
            ev, self._updates_event = self._updates_event, asyncio.Event()
            ev.set()
        ev, self._records_event = self._records_event, asyncio.Event()
        ev.set()

    # ------------------------------------------------------------------ methods

    async def _get_me(self, params: JSONDict) -> Any:
        return {"id": self.bot_id, "account_name": self.account_name, "account_type": "BASIC",
                "can_join_groups": False}

    async def _get_updates(self, params: JSONDict, request: web.Request | None = None) -> Any:
        if self.webhook_url is not None:
            raise _ApiError(409, "Conflict: webhook is active, getUpdates is not available")
        try:
            timeout = max(float(params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "Bad Request: timeout must be a number") from exc
        deadline = time.monotonic() + timeout
        while True:
            gone = request is not None and (request.transport is None
                                            or request.transport.is_closing())
            if gone:  # the client gave up on this poll: keep its event for the next one
                raise _ApiError(499, "Client closed request")
            if self._pending:
                return self._pending.pop(0)  # one event object, handed out once
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing.is_set():
                raise _ApiError(408, "Request timeout")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._updates_event.wait(), remaining)

    async def _set_webhook(self, params: JSONDict) -> Any:
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        parsed = urlparse(url)
        secure = parsed.scheme == "https" or (parsed.scheme == "http"
                                              and parsed.hostname in _LOOPBACK)
        if not (secure and parsed.netloc):
            raise _ApiError(400, "Bad Request: url must be HTTPS")
        if not 8 <= len(secret) <= 256:
            raise _ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook_url, self.webhook_secret, self._webhook_ever = url, secret, True
        self._webhook_updated = int(time.time() * 1000)
        pending, self._pending = self._pending, []
        for event in pending:
            asyncio.get_running_loop().create_task(self.post({"ok": True, "result": event}))
        return {"url": url, "updated_at": self._webhook_updated}

    async def _delete_webhook(self, params: JSONDict) -> Any:
        self.webhook_url = self.webhook_secret = None
        self._webhook_updated = int(time.time() * 1000)
        return {"url": "", "updated_at": self._webhook_updated}

    async def _get_webhook_info(self, params: JSONDict) -> Any:
        if not self._webhook_ever:
            raise _ApiError(404, "Not Found")
        return {"url": self.webhook_url or "", "updated_at": self._webhook_updated}

    def _chat(self, params: JSONDict) -> str:
        chat = params.get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise _ApiError(400, "Bad Request: chat_id is required")
        return chat

    def _record(self, method: str, chat: str, text: str | None, params: JSONDict,
                url: str | None = None, photo: bytes | None = None) -> JSONDict:
        mid = f"{next(self._ids):032x}"
        self.sent.append(Sent(method, chat, text, url, photo, mid, time.monotonic(), params))
        self._notify()
        return {"message_id": mid, "date": int(time.time() * 1000)}

    async def _send_message(self, params: JSONDict) -> Any:
        chat, text = self._chat(params), params.get("text")
        if not isinstance(text, str) or not text:
            raise _ApiError(400, "Bad Request: text is empty")
        if len(text) > TEXT_LIMIT:
            raise _ApiError(400, f"Bad Request: text is too long (max {TEXT_LIMIT})")
        return self._record("sendMessage", chat, text, params)

    async def _send_photo(self, params: JSONDict) -> Any:
        chat, url = self._chat(params), params.get("photo")
        caption = params.get("caption") or ""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: photo must be a URL")
        if len(caption) > TEXT_LIMIT:
            raise _ApiError(400, f"Bad Request: caption is too long (max {TEXT_LIMIT})")
        data = await self._fetch(url) if self.fetch_photos else None
        return self._record("sendPhoto", chat, caption or None, params, url, data)

    async def _fetch(self, url: str) -> bytes:
        assert self._client is not None
        try:
            async with self._client.get(url) as resp:
                if resp.status != 200:
                    raise _ApiError(400, f"Bad Request: cannot fetch photo ({resp.status})")
                return await resp.read()
        except aiohttp.ClientError as exc:
            raise _ApiError(400, "Bad Request: cannot fetch photo") from exc

    async def _send_sticker(self, params: JSONDict) -> Any:
        return self._record("sendSticker", self._chat(params), None, params)

    async def _send_chat_action(self, params: JSONDict) -> Any:
        chat = self._chat(params)
        if params.get("action") != "typing":
            raise _ApiError(400, "Bad Request: unsupported action")
        self.chat_actions.append((chat, "typing"))
        return None  # answers {"ok": true} with no result

