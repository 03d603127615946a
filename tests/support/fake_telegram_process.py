"""The fake Telegram server in its own process, driven over a small control API.

Tests with several bot processes need the fake to live apart from them and from the test
(its own core, its own clock for flood control), and still to act as users and report
what it saw. This runs :class:`~tests.fakes.telegram_api.FakeTelegram` plus a control
server on another port:

* ``POST /text {"user", "text", "url"}``, ``POST /press {"user", "label", "url"}`` and
  ``POST /photo {"user", "n", "url"}`` — a user acts; the update is POSTed to ``url`` (the
  webhook of one bot process, as with ``post_raw_update(url=…)``) and the answer is the
  webhook's HTTP status and the texts the chat got meanwhile;
* ``GET /stats`` — sends, sends per chat, 429 answers, calls per method;
* ``GET /texts?chat=N`` — what a chat got; ``POST /limits {…}`` — flood control
  (``set_limits``); ``POST /reset`` — forget the records.

    python -m tests.support.fake_telegram_process --token 123:ABC
    # prints: READY <bot api base url> <control url>

:class:`FakeProcess` starts it from a test and wraps the API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.fakes.telegram_api import FakeTelegram, JSONDict

ROOT = Path(__file__).resolve().parents[2]
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")


def jpeg(n: int) -> bytes:
    """A distinct small JPEG per ``n`` (a draft keeps identical photos once)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + n.to_bytes(4, "big") + b"\x11" * 64


class ControlledFake(FakeTelegram):
    """Counts sends per chat; builds user updates and posts them to a chosen webhook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.per_chat: Counter[int] = Counter()

    def _record(self, method: str, chat_id: int, *args: Any, **kwargs: Any) -> None:
        super()._record(method, chat_id, *args, **kwargs)
        if method in SEND_METHODS:
            self.per_chat[chat_id] += 1

    def _message(self, user: int) -> JSONDict:
        return self._user_message(user, None, f"Dân {user}", None, "private", None)

    async def post(self, user: int, update: JSONDict, url: str) -> JSONDict:
        update["update_id"] = self._take_update_id()
        seen = len(self.sent_to(user))
        status = await self.post_raw_update(update, url=url)
        return {"status": status, "update_id": update["update_id"],
                "replies": [s.text or "" for s in self.sent_to(user)[seen:]]}

    def button(self, chat: int, label: str) -> tuple[str, str, int] | None:
        """("callback" | "text", data or text, message id) of the newest matching button."""
        for sent in reversed(self.sent_to(chat)):
            markup = sent.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if label in b.get("text", "") and "callback_data" in b:
                        return "callback", b["callback_data"], sent.message_id
            for row in markup.get("keyboard", []):
                for b in row:
                    text = b if isinstance(b, str) else b.get("text", "")
                    if label in text:
                        return "text", text, sent.message_id
        return None

    def press_update(self, user: int, data: str, message_id: int) -> JSONDict:
        message = self._find_button_message(user, data, message_id)
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:08d}"
        self._open_callbacks.add(query_id)
        return {"callback_query": {"id": query_id, "from": self._user(user, f"Dân {user}", None),
                                   "message": message, "chat_instance": f"{user}{self.bot_id}",
                                   "data": data}}

    def photo_update(self, user: int, n: int) -> JSONDict:
        stored = self._store_file(jpeg(n), "image/jpeg", None, "photos")
        message = self._message(user)
        message["photo"] = [self._photo_size(stored)]
        return {"message": message}


def control_app(tg: ControlledFake) -> web.Application:
    async def text(request: web.Request) -> web.Response:
        body = await request.json()
        message = tg._message(int(body["user"]))
        message["text"] = body["text"]
        if body["text"].startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(body["text"].split()[0])}]
        return web.json_response(await tg.post(int(body["user"]), {"message": message},
                                                body["url"]))

    async def press(request: web.Request) -> web.Response:
        body = await request.json()
        user = int(body["user"])
        found = tg.button(user, body["label"])
        if found is None:
            return web.json_response({"error": f"no button {body['label']!r}"}, status=404)
        kind, data, message_id = found
        if kind == "text":
            message = tg._message(user)
            message["text"] = data
            update = {"message": message}
        else:
            update = tg.press_update(user, data, message_id)
        return web.json_response(await tg.post(user, update, body["url"]))

    async def photo(request: web.Request) -> web.Response:
        body = await request.json()
        user = int(body["user"])
        return web.json_response(await tg.post(user, tg.photo_update(user, int(body["n"])),
                                                body["url"]))

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"sent": sum(tg.per_chat.values()), "count_429": tg.count_429,
                                  "per_chat": {str(k): v for k, v in tg.per_chat.items()},
                                  "calls": dict(tg.calls), "now": time.monotonic()})

    async def texts(request: web.Request) -> web.Response:
        return web.json_response(tg.texts(int(request.query["chat"])))

    async def limits(request: web.Request) -> web.Response:
        tg.set_limits(**(await request.json()))
        return web.json_response({"ok": True})

    async def reset(_request: web.Request) -> web.Response:
        tg.reset_records()
        tg.per_chat.clear()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/text", text)
    app.router.add_post("/press", press)
    app.router.add_post("/photo", photo)
    app.router.add_get("/stats", stats)
    app.router.add_get("/texts", texts)
    app.router.add_post("/limits", limits)
    app.router.add_post("/reset", reset)
    return app


async def serve(token: str) -> None:
    async with ControlledFake(token=token) as tg:
        runner = web.AppRunner(control_app(tg), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        print(f"READY {tg.base_url} http://127.0.0.1:{port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


class FakeProcess:
    """Start the fake in its own process and talk to its control API."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.api = ""
        self.control = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def file_api(self) -> str:
        return self.api.replace("/bot", "/file/bot")

    async def __aenter__(self) -> Self:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.fake_telegram_process", "--token", self.token,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        assert self._proc.stdout is not None
        line = (await asyncio.wait_for(self._proc.stdout.readline(), 30)).decode().split()
        assert line and line[0] == "READY", line
        self.api, self.control = line[1], line[2]
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        assert self._http is not None
        async with self._http.request(method, f"{self.control}{path}", **kw) as r:
            body = await r.json()
            if r.status != 200:
                raise AssertionError(f"{path}: {body}")
            return body

    async def text(self, user: int, text: str, url: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/text", json={"user": user, "text": text,
                                                             "url": url}))

    async def press(self, user: int, label: str, url: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/press", json={"user": user, "label": label,
                                                              "url": url}))

    async def photo(self, user: int, n: int, url: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/photo", json={"user": user, "n": n, "url": url}))

    async def stats(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/stats"))

    async def texts(self, chat: int) -> list[str]:
        return list(await self._call("GET", "/texts", params={"chat": str(chat)}))

    async def limits(self, **limits: Any) -> None:
        await self._call("POST", "/limits", json=limits)

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def wait(self, predicate: Any, timeout: float = 30.0, every: float = 0.1
                   ) -> dict[str, Any]:
        """Poll ``/stats`` until ``predicate(stats)`` holds; returns those stats."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            stats = await self.stats()
            if predicate(stats):
                return stats
            if loop.time() > deadline:
                raise TimeoutError(f"fake: condition not met in {timeout}s: sent "
                                   f"{stats['sent']}, 429s {stats['count_429']}")
            await asyncio.sleep(every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--token", default="123:ABC")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.token))


if __name__ == "__main__":
    main()
