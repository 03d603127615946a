"""A fake Telegram Bot API server on loopback, for whole-dialog tests and benchmarks.

``FakeTelegram`` speaks enough of the Bot API for python-telegram-bot (or any HTTP client)
to run against it unchanged: point ``base_url``/``base_file_url`` at it, inject what users
do (``user_sends_text``, ``user_presses`` …), and read what the bot sent from ``tg.sent``.

It enforces the limits that bite in production (text length after entity parsing,
``callback_data`` bytes, flood control with ``retry_after``) and can script failures
(``fail_next``, ``delay_next``, ``block``) so retry and outbox logic can be tested
without the real service.

Run it standalone (used by the benchmarks so the server gets its own core)::

    python -m tests.fakes.telegram_api --port 0 --token 123:ABC
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import json
import math
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_MAX_BYTES = 64
INLINE_BUTTONS_MAX = 100
CALLBACK_ANSWER_TEXT_LIMIT = 200

# Telegram leaves these out unless a bot asks for them explicitly.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Form and multipart bodies carry every value as a string; these are decoded so handlers
# (and ``Sent.params``) see the same types whichever encoding the client chose.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "menu_button",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "reply_to_message_id",
        "message_thread_id",
        "offset",
        "limit",
        "cache_time",
        "max_connections",
    }
)
_FLOAT_FIELDS = frozenset({"timeout"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
    }
)

# Methods whose success produces a new message: these count against flood limits.
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# Methods that touch a chat: a blocked chat answers 403 to all of them.
_CHAT_METHODS = _SEND_METHODS | frozenset(
    {"sendChatAction", "editMessageText", "editMessageReplyMarkup", "deleteMessage"}
)

_MIME_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Sent:
    """One successful send or edit, as the fake recorded it.

    ``text`` holds the raw text (or caption) exactly as the bot sent it, HTML tags
    included; ``params`` holds every request parameter with JSON fields decoded.
    """

    method: str
    chat_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: JSONDict | None
    photo: bytes | None
    document: bytes | None
    filename: str | None
    message_id: int
    at: float
    params: JSONDict


@dataclass(slots=True)
class CallbackAnswer:
    """One ``answerCallbackQuery`` call the bot made."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    at: float
    params: JSONDict


@dataclass(slots=True)
class WebhookDelivery:
    """One POST of an update to the bot's webhook; ``status`` is 0 when no HTTP answer came."""

    update_id: int | None
    status: int
    at: float
    error: str | None = None


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime: str | None
    filename: str | None


@dataclass(slots=True)
class _Upload:
    filename: str | None
    data: bytes
    content_type: str | None


@dataclass(slots=True)
class _Script:
    method: str | None
    chat_id: int | None
    remaining: int
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


class _ApiError(Exception):
    """Raised inside method handlers; becomes a Bot API error envelope."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _EntityParseError(ValueError):
    pass


class _Unset(enum.Enum):
    TOKEN = 0


_UNSET = _Unset.TOKEN


# --------------------------------------------------------------------------- flood control


class _Window:
    """Timestamps of accepted sends inside a sliding window of ``span`` seconds."""

    __slots__ = ("span", "stamps")

    def __init__(self, span: float) -> None:
        self.span = span
        self.stamps: deque[float] = deque()

    def wait_needed(self, now: float, limit: int) -> float:
        """Seconds until one more send fits under ``limit``; 0 when it fits now."""
        limit = max(limit, 1)
        stamps = self.stamps
        horizon = now - self.span
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if len(stamps) < limit:
            return 0.0
        # The send that must leave the window before a new one fits.
        return stamps[len(stamps) - limit] + self.span - now


@dataclass(slots=True)
class _Limits:
    enabled: bool
    global_per_sec: int
    per_chat_per_sec: int
    per_group_per_min: int
    paid_broadcast_per_sec: int


# --------------------------------------------------------------------------- HTML entities

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{1,10});")
_TAG_NAME = re.compile(r"([a-zA-Z][a-zA-Z0-9-]*)")
_TAG_ATTR = re.compile(r"\s+([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=]+))?")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_tag(inner: str) -> tuple[str, dict[str, str]] | None:
    name_match = _TAG_NAME.match(inner)
    if name_match is None:
        return None
    attrs: dict[str, str] = {}
    pos = name_match.end()
    while pos < len(inner):
        attr = _TAG_ATTR.match(inner, pos)
        if attr is None:
            if inner[pos:].strip() == "":
                break
            return None
        value = attr.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        attrs[attr.group(1).lower()] = value
        pos = attr.end()
    return name_match.group(1).lower(), attrs


def _html_entity(name: str, attrs: dict[str, str], offset: int, length: int) -> JSONDict:
    kind = _HTML_TAGS[name]
    entity: JSONDict = {"type": kind, "offset": offset, "length": length}
    if name == "a":
        entity["url"] = attrs.get("href", "")
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into plain text and message entities.

    Follows the Bot API rules: only the supported tags, properly nested; only ``&lt;
    &gt; &amp; &quot;`` and numeric entities are decoded (other ``&`` stay literal).
    Entity offsets are in UTF-16 code units, as Telegram reports them.

    Raises:
        ValueError: with Telegram's wording when the markup cannot be parsed.
    """
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[JSONDict] = []
    pos = 0
    size = len(text)
    while pos < size:
        special = _HTML_SPECIAL.search(text, pos)
        stop = special.start() if special else size
        if stop > pos:
            run = text[pos:stop]
            out.append(run)
            u16 += _utf16_len(run)
        if special is None:
            break
        pos = stop
        if text[pos] == "&":
            entity = _HTML_ENTITY.match(text, pos)
            char = "&"
            if entity is not None:
                ref = entity.group(1)
                decoded: str | None
                if ref.startswith(("#x", "#X")):
                    decoded = _codepoint(int(ref[2:], 16))
                elif ref.startswith("#"):
                    decoded = _codepoint(int(ref[1:]))
                else:
                    decoded = _NAMED_ENTITIES.get(ref.lower())
                if decoded is not None:
                    char = decoded
                    pos = entity.end() - 1
            out.append(char)
            u16 += _utf16_len(char)
            pos += 1
            continue
        end = text.find(">", pos)
        if end == -1:
            raise _EntityParseError(
                f"Can't find end of the tag starting at byte offset {_byte_offset(text, pos)}"
            )
        inner = text[pos + 1 : end]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise _EntityParseError(
                    f'Unexpected end tag "{name}" at byte offset {_byte_offset(text, pos)}'
                )
            open_name, attrs, start = stack.pop()
            if name != open_name:
                raise _EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, pos)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if u16 > start:
                entities.append(_html_entity(open_name, attrs, start, u16 - start))
        else:
            parsed = _parse_tag(inner)
            tag = parsed[0] if parsed else inner.strip()
            if (
                parsed is None
                or tag not in _HTML_TAGS
                or (tag == "span" and parsed[1].get("class") != "tg-spoiler")
            ):
                raise _EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, pos)}'
                )
            stack.append((tag, parsed[1], u16))
        pos = end + 1
    if stack:
        raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _codepoint(value: int) -> str | None:
    if 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return None


def _strip_entities(plain: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, keeping entity offsets valid."""
    stripped = plain.strip()
    if stripped == plain or not entities:
        return stripped, entities
    shift = _utf16_len(plain[: len(plain) - len(plain.lstrip())])
    total = _utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _command_entities(text: str) -> list[JSONDict]:
    # Telegram marks a leading /command (optionally /command@bot) as a bot_command.
    match = _BOT_COMMAND_RE.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}]


# --------------------------------------------------------------------------- parameters


def _normalize(params: JSONDict) -> JSONDict:
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        try:
            if key in _JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in _INT_FIELDS:
                with contextlib.suppress(ValueError):
                    params[key] = int(value)
            elif key in _FLOAT_FIELDS:
                params[key] = float(value)
            elif key in _BOOL_FIELDS:
                params[key] = value.lower() in ("true", "1")
        except ValueError as exc:
            if key == "reply_markup":
                raise _ApiError(
                    400, "Bad Request: can't parse reply keyboard markup JSON object"
                ) from exc
            raise _ApiError(400, f"Bad Request: can't parse {key}") from exc
    return params


def _error_body(status: int, description: str, parameters: JSONDict | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _default_description(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")


# --------------------------------------------------------------------------- the fake


Handler = Callable[[JSONDict, dict[str, _Upload]], Awaitable[Any]]


class FakeTelegram:
    """A loopback Bot API server that records what a bot sends and injects what users do.

    Use as ``async with FakeTelegram(token="123:ABC") as tg:`` and build the bot with
    ``base_url=tg.base_url, base_file_url=tg.base_file_url``.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "binhyen_test_bot",
        bot_first_name: str = "Bình Yên (test)",
        flood_control: bool = False,
        global_per_sec: int = 30,
        per_chat_per_sec: int = 1,
        per_group_per_min: int = 20,
        paid_broadcast_per_sec: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_timeout: float = 10.0,
    ) -> None:
        """Configure the fake; nothing listens until ``start()`` / ``async with``.

        Flood control is off by default so functional tests are not paced; turn it on
        here or later with ``set_limits``.
        """
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 1
        self.bot_username = bot_username
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.host = host
        self._requested_port = port
        self.port = 0
        self._webhook_timeout = webhook_timeout

        # Records, cleared by reset_records().
        self.sent: list[Sent] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.deleted: list[tuple[int, int]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.calls: Counter[str] = Counter()
        self.count_429 = 0

        # Server state.
        self._limits = _Limits(
            enabled=flood_control,
            global_per_sec=global_per_sec,
            per_chat_per_sec=per_chat_per_sec,
            per_group_per_min=per_group_per_min,
            paid_broadcast_per_sec=paid_broadcast_per_sec,
        )
        self._global_window = _Window(1.0)
        self._chat_windows: dict[int, _Window] = {}
        self._group_windows: dict[int, _Window] = {}
        self._failures: list[_Script] = []
        self._delays: list[_Script] = []
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._message_counters: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = 0
        self._open_callbacks: set[str] = set()
        self._callback_counter = 0
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._pending: list[JSONDict] = []
        self._next_update_id = 100_000
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._webhook_last_error: tuple[int, str] | None = None

        self._updates_event = asyncio.Event()
        self._records_event = asyncio.Event()
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("answerCallbackQuery", self._answer_callback_query),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("deleteMessage", self._delete_message),
            ("sendChatAction", self._send_chat_action),
            ("getFile", self._get_file),
            ("setChatMenuButton", self._set_chat_menu_button),
            ("getChatMenuButton", self._get_chat_menu_button),
            ("close", self._ok_true),
            ("logOut", self._ok_true),
        ):
            # Telegram matches method names case-insensitively.
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """API base in python-telegram-bot's convention (the token is appended to it)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """File download base in python-telegram-bot's convention."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def api_url(self) -> str:
        """Full method prefix including the token, for clients without PTB's convention."""
        return f"{self.base_url}{self.token}"

    async def start(self) -> None:
        """Start listening on ``host`` (a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        # Telegram accepts uploads up to 50 MB; aiohttp's default cap is 1 MiB.
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            site = web.SockSite(runner, sock, backlog=1024)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stop serving; pending long polls and scripted delays end at once."""
        self._closing.set()
        self._notify_updates()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # ------------------------------------------------------------------ configuration

    def set_limits(
        self,
        global_per_sec: int | None = None,
        per_chat_per_sec: int | None = None,
        per_group_per_min: int | None = None,
        enabled: bool = True,
        paid_broadcast_per_sec: int | None = None,
    ) -> None:
        """Change flood limits at runtime; omitted limits keep their value.

        The sliding windows restart empty, so a test starts from a clean slate.
        """
        limits = self._limits
        if global_per_sec is not None:
            limits.global_per_sec = global_per_sec
        if per_chat_per_sec is not None:
            limits.per_chat_per_sec = per_chat_per_sec
        if per_group_per_min is not None:
            limits.per_group_per_min = per_group_per_min
        if paid_broadcast_per_sec is not None:
            limits.paid_broadcast_per_sec = paid_broadcast_per_sec
        limits.enabled = enabled
        self._global_window = _Window(1.0)
        self._chat_windows.clear()
        self._group_windows.clear()

    def fail_next(
        self,
        method: str | None = "sendMessage",
        status: int = 500,
        description: str | None = None,
        count: int = 1,
        chat_id: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (any method if None) fail.

        ``chat_id`` narrows it to one chat. A 429 gets ``parameters.retry_after``
        (default 1). Scripted failures come before any validation or flood check.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = _default_description(status)
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
        self._failures.append(
            _Script(
                method=method,
                chat_id=chat_id,
                remaining=count,
                status=status,
                description=description,
                retry_after=retry_after,
            )
        )

    def delay_next(
        self, method: str | None, seconds: float, count: int = 1, chat_id: int | None = None
    ) -> None:
        """Hold the next ``count`` calls of ``method`` for ``seconds`` before answering.

        The call is still carried out after the delay even if the client gave up, as a
        real server would: a client timeout does not mean the message was not sent.
        """
        self._delays.append(
            _Script(method=method, chat_id=chat_id, remaining=count, seconds=seconds)
        )

    def block(self, chat_id: int) -> None:
        """Answer 403 "bot was blocked by the user" to every call touching ``chat_id``."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo ``block``."""
        self._blocked.discard(chat_id)

    def reset_records(self) -> None:
        """Forget what was recorded (sends, calls, answers …); server state is kept."""
        self.sent.clear()
        self.callback_answers.clear()
        self.deleted.clear()
        self.chat_actions.clear()
        self.webhook_deliveries.clear()
        self.calls.clear()
        self.count_429 = 0

    # ------------------------------------------------------------------ reading records

    def sent_to(self, chat_id: int) -> list[Sent]:
        """Every recorded send/edit to ``chat_id``, oldest first."""
        return [s for s in self.sent if s.chat_id == chat_id]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts and captions of sends and text edits (to one chat, or all), oldest first."""
        return [
            s.text
            for s in self.sent
            if s.text is not None and (chat_id is None or s.chat_id == chat_id)
        ]

    def last(self, chat_id: int | None = None) -> Sent:
        """The latest send/edit (to ``chat_id`` if given).

        Raises:
            LookupError: nothing was recorded.
        """
        for record in reversed(self.sent):
            if chat_id is None or record.chat_id == chat_id:
                return record
        raise LookupError(f"nothing was sent to chat {chat_id}")

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a stored message (after edits), or None if unknown/deleted."""
        return self._messages.get((chat_id, message_id))

    # A timeout argument (not asyncio.timeout) keeps test code to one line per wait.
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
    ) -> None:
        """Return once ``predicate()`` holds, re-checking whenever something is recorded.

        Raises:
            TimeoutError: it still does not hold after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            event = self._records_event
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
                continue
            tail = "; ".join(f"{s.method}→{s.chat_id}: {s.text!r}" for s in self.sent[-5:])
            raise TimeoutError(
                f"condition not met within {timeout}s; {len(self.sent)} sent, last: {tail}"
            )

    async def wait_sent(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Sent]:
        """Wait until at least ``count`` sends/edits to ``chat_id`` are recorded; return them."""
        await self.wait_for(lambda: len(self.sent_to(chat_id)) >= count, timeout)
        return self.sent_to(chat_id)

    # ------------------------------------------------------------------ injecting updates

    async def inject_update(self, update: JSONDict) -> int:
        """Deliver a raw update: queue it for getUpdates, or POST it to the webhook if set.

        An ``update_id`` is assigned when missing. Returns the update_id; a webhook
        delivery's HTTP status is recorded in ``webhook_deliveries``.
        """
        if "update_id" not in update:
            update["update_id"] = self._take_update_id()
        update_id = int(update["update_id"])
        if self.webhook_url is not None:
            if self._allowed(update):
                await self._push(update, self.webhook_secret, self.webhook_url)
            return update_id
        self._pending.append(update)
        self._notify_updates()
        return update_id

    async def post_raw_update(
        self,
        update: JSONDict,
        secret: str | _Unset | None = _UNSET,
        url: str | None = None,
    ) -> int:
        """POST ``update`` to the webhook exactly as given and return the HTTP status.

        ``secret`` defaults to the configured secret token; pass a string to send a
        different one or None to send no secret header. ``url`` defaults to the webhook.
        Returns 0 when the bot gave no HTTP answer (connection refused, timeout).
        """
        target = url or self.webhook_url
        if target is None:
            raise RuntimeError("no webhook is set and no url was given")
        header = self.webhook_secret if isinstance(secret, _Unset) else secret
        return await self._push(update, header, target)

    async def user_sends_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        first_name: str = "An",
        username: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends ``text``; a leading ``/command`` gets its bot_command entity."""
        message = self._user_message(
            user_id, chat_id, first_name, username, chat_type, reply_to_message_id
        )
        message["text"] = text
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        return await self.inject_update({"message": message})

    async def user_sends_command(
        self,
        user_id: int,
        command: str,
        chat_id: int | None = None,
        first_name: str = "An",
        username: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends a command such as ``"/start abc"`` (the slash may be omitted)."""
        text = command if command.startswith("/") else f"/{command}"
        return await self.user_sends_text(
            user_id, text, chat_id, first_name, username, chat_type, reply_to_message_id
        )

    def user_messages(self, chat_id: int) -> list[JSONDict]:
        """What users sent in ``chat_id`` (not the bot), oldest first."""
        return [m for (chat, _), m in sorted(self._messages.items())
                if chat == chat_id and m.get("from", {}).get("id") != self.bot_id]

    async def user_edits_text(self, chat_id: int, message_id: int, text: str) -> int:
        """The author of message ``message_id`` edits it to ``text`` (an ``edited_message``)."""
        original = self._messages.get((chat_id, message_id))
        if original is None or original.get("from", {}).get("id") == self.bot_id:
            raise LookupError(f"no user message {message_id} in chat {chat_id}")
        edited: JSONDict = {k: v for k, v in original.items() if k != "entities"}
        edited["text"] = text
        edited["edit_date"] = int(time.time())
        entities = _command_entities(text)
        if entities:
            edited["entities"] = entities
        self._messages[(chat_id, message_id)] = edited
        return await self.inject_update({"edited_message": edited})

    async def user_presses(
        self,
        user_id: int,
        callback_data: str,
        message_id: int | None = None,
        chat_id: int | None = None,
        first_name: str = "An",
        username: str | None = None,
    ) -> int:
        """A user presses an inline button carrying ``callback_data``.

        Without ``message_id`` the newest bot message in the chat whose keyboard holds
        that data is used (else the newest bot message). The bot's answer lands in
        ``callback_answers``.
        """
        chat = user_id if chat_id is None else chat_id
        message = self._find_button_message(chat, callback_data, message_id)
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:08d}"
        self._open_callbacks.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": self._user(user_id, first_name, username),
            "message": message,
            "chat_instance": f"{abs(chat)}{self.bot_id}",
            "data": callback_data,
        }
        return await self.inject_update({"callback_query": query})

    async def user_sends_photo(
        self,
        user_id: int,
        data: bytes,
        mime: str = "image/jpeg",
        caption: str = "",
        chat_id: int | None = None,
        first_name: str = "An",
        username: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends a photo; its bytes are then served by getFile and the file URL."""
        stored = self._store_file(data, mime, None, "photos")
        message = self._user_message(
            user_id, chat_id, first_name, username, chat_type, reply_to_message_id
        )
        message["photo"] = [self._photo_size(stored)]
        if caption:
            message["caption"] = caption
        return await self.inject_update({"message": message})

    async def user_sends_document(
        self,
        user_id: int,
        data: bytes,
        filename: str,
        mime: str = "application/octet-stream",
        caption: str = "",
        chat_id: int | None = None,
        first_name: str = "An",
        username: str | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a file; its bytes are then served by getFile and the file URL."""
        stored = self._store_file(data, mime, filename, "documents")
        message = self._user_message(user_id, chat_id, first_name, username, chat_type, None)
        message["document"] = self._document(stored)
        if caption:
            message["caption"] = caption
        return await self.inject_update({"message": message})

    async def user_shares_contact(
        self,
        user_id: int,
        phone: str,
        first_name: str = "An",
        username: str | None = None,
        contact_user_id: int | None = None,
    ) -> int:
        """A user shares a contact (their own unless ``contact_user_id`` differs)."""
        message = self._user_message(user_id, None, first_name, username, "private", None)
        message["contact"] = {
            "phone_number": phone,
            "first_name": first_name,
            "user_id": user_id if contact_user_id is None else contact_user_id,
        }
        return await self.inject_update({"message": message})

    async def user_shares_location(
        self,
        user_id: int,
        lat: float,
        lon: float,
        first_name: str = "An",
        username: str | None = None,
    ) -> int:
        """A user shares a location in the private chat."""
        message = self._user_message(user_id, None, first_name, username, "private", None)
        message["location"] = {"latitude": lat, "longitude": lon}
        return await self.inject_update({"message": message})

    async def bot_added_to_group(
        self,
        chat_id: int,
        title: str,
        by_user_id: int,
        chat_type: str = "group",
        first_name: str = "An",
    ) -> int:
        """``by_user_id`` adds the bot to a group: a ``my_chat_member`` update."""
        chat: JSONDict = {"id": chat_id, "type": chat_type, "title": title}
        self._chats[chat_id] = chat
        return await self._my_chat_member(chat, by_user_id, first_name, "left", "member")

    async def bot_removed_from_group(
        self, chat_id: int, by_user_id: int, first_name: str = "An"
    ) -> int:
        """``by_user_id`` removes the bot from a group: a ``my_chat_member`` update."""
        chat = self._chat(chat_id)
        return await self._my_chat_member(chat, by_user_id, first_name, "member", "left")

    async def user_blocks_bot(self, user_id: int, first_name: str = "An") -> int:
        """A user blocks the bot: later sends get 403 and a ``my_chat_member`` arrives."""
        self.block(user_id)
        chat = self._chat(user_id)
        return await self._my_chat_member(chat, user_id, first_name, "member", "kicked")

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(_error_body(401, "Unauthorized"), status=401)
        raw_method = request.match_info["method"]
        entry = self._handlers.get(raw_method.lower())
        method = entry[0] if entry else raw_method
        self.calls[method] += 1
        if entry is None:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        try:
            params, files = await self._read_params(request)
            chat_id = params.get("chat_id")
            chat = chat_id if isinstance(chat_id, int) else None
            delay = self._take_script(self._delays, method, chat)
            if delay is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay.seconds)
            failure = self._take_script(self._failures, method, chat)
            if failure is not None:
                params_out = {"retry_after": failure.retry_after} if failure.retry_after else None
                raise _ApiError(failure.status, failure.description, params_out)
            if chat is not None and chat in self._blocked and method in _CHAT_METHODS:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            result = await entry[1](params, files)
        except _ApiError as err:
            if err.status == 429:
                self.count_429 += 1
            return web.json_response(
                _error_body(err.status, err.description, err.parameters), status=err.status
            )
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(_error_body(401, "Unauthorized"), status=401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, _Upload]]:
        params: JSONDict = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError as exc:
                        raise _ApiError(400, "Bad Request: can't parse JSON") from exc
                    if not isinstance(body, dict):
                        raise _ApiError(400, "Bad Request: JSON object expected")
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = _Upload(value.filename, value.file.read(), value.content_type)
                    elif isinstance(value, bytes | bytearray):
                        params[key] = bytes(value).decode("utf-8", "replace")
                    else:
                        params[key] = value
        return _normalize(params), files

    # ------------------------------------------------------------------ method handlers

    async def _ok_true(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        return True

    async def _get_me(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        if self.webhook_url is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        self._set_allowed(params.get("allowed_updates"))
        self._confirm(params.get("offset"))
        # A newer long poll terminates an older one, which is how Telegram reveals two
        # bot instances polling with the same token.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = self._deliverable(limit)
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing.is_set():
                return ready
            event = self._updates_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _set_webhook(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: bad webhook: invalid URL")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._set_allowed(params.get("allowed_updates"))
        if not url:
            self.webhook_url = None
            self.webhook_secret = None
            return True
        self.webhook_url = url
        self.webhook_secret = None if secret is None else str(secret)
        self._webhook_last_error = None
        # A long poll in progress is cut off, as Telegram does when a webhook appears.
        self._poll_generation += 1
        self._notify_updates()
        if self._pending:
            self._spawn(self._drain_to_webhook())
        return True

    async def _delete_webhook(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _send_message(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id = self._require_chat(params)
        text = params.get("text")
        if not isinstance(text, str):
            raise _ApiError(400, "Bad Request: message text is empty")
        plain, entities = self._parse_text(
            text, params.get("parse_mode"), TEXT_LIMIT, "Bad Request: message is too long"
        )
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        self._check_flood(chat_id, params)
        message = self._bot_message(chat_id, markup, reply_to)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        self._record("sendMessage", chat_id, text, params, markup, message["message_id"])
        return message

    async def _send_photo(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        return self._send_media("sendPhoto", "photo", params, files)

    async def _send_document(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        return self._send_media("sendDocument", "document", params, files)

    def _send_media(
        self, method: str, field_name: str, params: JSONDict, files: dict[str, _Upload]
    ) -> JSONDict:
        chat_id = self._require_chat(params)
        stored = self._media_input(field_name, params, files)
        caption = params.get("caption")
        caption_text = caption if isinstance(caption, str) and caption else None
        plain, entities = "", list[JSONDict]()
        if caption_text is not None:
            plain, entities = self._parse_text(
                caption_text,
                params.get("parse_mode"),
                CAPTION_LIMIT,
                "Bad Request: message caption is too long",
            )
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        self._check_flood(chat_id, params)
        message = self._bot_message(chat_id, markup, reply_to)
        if field_name == "photo":
            message["photo"] = [self._photo_size(stored)]
        else:
            message["document"] = self._document(stored)
        if plain:
            message["caption"] = plain
            if entities:
                message["caption_entities"] = entities
        self._record(
            method,
            chat_id,
            caption_text,
            params,
            markup,
            message["message_id"],
            photo=stored.data if field_name == "photo" and stored.data else None,
            document=stored.data if field_name == "document" and stored.data else None,
            filename=stored.filename,
        )
        return message

    async def _edit_message_text(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id, message = self._editable(params)
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not isinstance(text, str):
            raise _ApiError(400, "Bad Request: message text is empty")
        plain, entities = self._parse_text(
            text, params.get("parse_mode"), TEXT_LIMIT, "Bad Request: message is too long"
        )
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        markup = self._check_markup(params.get("reply_markup"))
        inline = markup if markup and "inline_keyboard" in markup else None
        # Editing the text without a reply_markup drops the inline keyboard, like Telegram.
        if (
            plain == message["text"]
            and entities == message.get("entities", [])
            and inline == message.get("reply_markup")
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        message["text"] = plain
        self._set_optional(message, "entities", entities or None)
        self._set_optional(message, "reply_markup", inline)
        message["edit_date"] = int(time.time())
        self._record("editMessageText", chat_id, text, params, markup, message["message_id"])
        return message

    async def _edit_message_reply_markup(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id, message = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"))
        inline = markup if markup and "inline_keyboard" in markup else None
        if inline == message.get("reply_markup"):
            raise _ApiError(400, _NOT_MODIFIED)
        self._set_optional(message, "reply_markup", inline)
        message["edit_date"] = int(time.time())
        self._record("editMessageReplyMarkup", chat_id, None, params, markup, message["message_id"])
        return message

    async def _answer_callback_query(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.get("text")
        if isinstance(text, str) and len(text) > CALLBACK_ANSWER_TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        cache_time = params.get("cache_time")
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text if isinstance(text, str) else None,
                show_alert=bool(params.get("show_alert")),
                url=params.get("url"),
                cache_time=cache_time if isinstance(cache_time, int) else None,
                at=time.monotonic(),
                params=params,
            )
        )
        self._notify_records()
        return True

    async def _set_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.match(
                str(command.get("command", ""))
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        return self._commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _delete_message(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id = self._require_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or (chat_id, message_id) not in self._messages:
            raise _ApiError(400, "Bad Request: message to delete not found")
        del self._messages[(chat_id, message_id)]
        self.deleted.append((chat_id, message_id))
        self._notify_records()
        return True

    async def _send_chat_action(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id = self._require_chat(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, str(action)))
        return True

    async def _get_file(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def _set_chat_menu_button(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise _ApiError(400, "Bad Request: can't parse menu button")
        chat_id = params.get("chat_id")
        self._menu_buttons[chat_id if isinstance(chat_id, int) else None] = button
        return True

    async def _get_chat_menu_button(self, params: JSONDict, files: dict[str, _Upload]) -> Any:
        chat_id = params.get("chat_id")
        key = chat_id if isinstance(chat_id, int) else None
        return self._menu_buttons.get(key) or self._menu_buttons.get(None) or {"type": "default"}

    # ------------------------------------------------------------------ validation helpers

    def _require_chat(self, params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _parse_text(
        self, text: str, parse_mode: Any, limit: int, too_long: str
    ) -> tuple[str, list[JSONDict]]:
        entities: list[JSONDict] = []
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            try:
                text, entities = parse_html(text)
            except _EntityParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
        # MarkdownV2/Markdown are not parsed: their raw length is what gets counted.
        plain, entities = _strip_entities(text, entities)
        if len(plain) > limit:
            raise _ApiError(400, too_long)
        return plain, entities

    def _check_markup(self, markup: Any) -> JSONDict | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _ApiError(400, "Bad Request: can't parse inline keyboard button")
        if sum(len(row) for row in rows) > INLINE_BUTTONS_MAX:
            raise _ApiError(400, "Bad Request: reply markup is too long")
        for row in rows:
            for button in row:
                self._check_button(button)
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not button.get("text"):
            raise _ApiError(400, "Bad Request: can't parse inline keyboard button: text is empty")
        if "callback_data" in button:
            data = button["callback_data"]
            size = len(data.encode("utf-8")) if isinstance(data, str) else 0
            if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            return
        actions = (
            "url",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        if not any(key in button for key in actions):
            raise _ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")

    def _reply_target(self, chat_id: int, params: JSONDict) -> JSONDict | None:
        target_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if reply.get("chat_id") not in (None, chat_id):
                return None
        if not isinstance(target_id, int):
            return None
        target = self._messages.get((chat_id, target_id))
        if target is None:
            if allow_missing:
                return None
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _check_flood(self, chat_id: int, params: JSONDict) -> None:
        limits = self._limits
        if not limits.enabled:
            return
        now = time.monotonic()
        global_limit = (
            limits.paid_broadcast_per_sec
            if params.get("allow_paid_broadcast")
            else limits.global_per_sec
        )
        chat_window = self._chat_windows.get(chat_id)
        if chat_window is None:
            chat_window = self._chat_windows[chat_id] = _Window(1.0)
        wait = max(
            self._global_window.wait_needed(now, global_limit),
            chat_window.wait_needed(now, limits.per_chat_per_sec),
        )
        group_window = None
        if chat_id < 0:
            group_window = self._group_windows.get(chat_id)
            if group_window is None:
                group_window = self._group_windows[chat_id] = _Window(60.0)
            wait = max(wait, group_window.wait_needed(now, limits.per_group_per_min))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        self._global_window.stamps.append(now)
        chat_window.stamps.append(now)
        if group_window is not None:
            group_window.stamps.append(now)

    def _editable(self, params: JSONDict) -> tuple[int, JSONDict]:
        if params.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = self._require_chat(params)
        message_id = params.get("message_id")
        message = self._messages.get((chat_id, message_id)) if isinstance(message_id, int) else None
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return chat_id, message

    def _media_input(
        self, field_name: str, params: JSONDict, files: dict[str, _Upload]
    ) -> _StoredFile:
        upload = files.get(field_name)
        value = params.get(field_name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.data:
                raise _ApiError(400, "Bad Request: file must be non-empty")
            folder = "photos" if field_name == "photo" else "documents"
            return self._store_file(upload.data, upload.content_type, upload.filename, folder)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # Telegram would fetch the URL; the fake records the send without content.
            return self._store_file(b"", None, value.rsplit("/", 1)[-1] or None, "remote")
        raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------------ state helpers

    def _take_script(
        self, scripts: list[_Script], method: str, chat_id: int | None
    ) -> _Script | None:
        for script in scripts:
            if script.matches(method, chat_id):
                script.remaining -= 1
                if script.remaining <= 0:
                    scripts.remove(script)
                return script
        return None

    def _take_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id

    def _take_message_id(self, chat_id: int) -> int:
        value = self._message_counters.get(chat_id, 0) + 1
        self._message_counters[chat_id] = value
        return value

    def _chat(self, chat_id: int) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if chat_id > 0:
            return {"id": chat_id, "type": "private"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Nhóm {chat_id}"}

    def _user(self, user_id: int, first_name: str, username: str | None) -> JSONDict:
        user: JSONDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "vi",
        }
        if username:
            user["username"] = username
        return user

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        first_name: str,
        username: str | None,
        chat_type: str,
        reply_to_message_id: int | None,
    ) -> JSONDict:
        if chat_type == "private":
            target = user_id if chat_id is None else chat_id
            chat: JSONDict = {"id": target, "type": "private", "first_name": first_name}
            if username:
                chat["username"] = username
            self._chats[target] = chat
        else:
            if chat_id is None:
                raise ValueError(f"chat_id is required for a {chat_type} chat")
            target = chat_id
            known = self._chats.get(target)
            chat = known if known else {"id": target, "type": chat_type, "title": f"Nhóm {target}"}
            self._chats[target] = chat
        message: JSONDict = {
            "message_id": self._take_message_id(target),
            "from": self._user(user_id, first_name, username),
            "chat": chat,
            "date": int(time.time()),
        }
        if reply_to_message_id is not None:
            original = self._messages.get((target, reply_to_message_id))
            if original is not None:
                message["reply_to_message"] = {
                    k: v for k, v in original.items() if k != "reply_to_message"
                }
        self._messages[(target, message["message_id"])] = message
        return message

    def _bot_message(
        self, chat_id: int, markup: JSONDict | None, reply_to: JSONDict | None
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": self._take_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        # Telegram echoes only inline keyboards back on the sent message.
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _find_button_message(
        self, chat_id: int, callback_data: str, message_id: int | None
    ) -> JSONDict:
        if message_id is not None:
            found = self._messages.get((chat_id, message_id))
            if found is not None:
                return found
        else:
            newest: JSONDict | None = None
            for (chat, _), message in reversed(self._messages.items()):
                if chat != chat_id or message.get("from", {}).get("id") != self.bot_id:
                    continue
                if newest is None:
                    newest = message
                if callback_data in _button_data(message.get("reply_markup")):
                    return message
            if newest is not None:
                return newest
        # The test presses a button on a message the fake never saw: make one up so the
        # bot can still edit it.
        message = {
            "message_id": message_id or self._take_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": "…",
            "reply_markup": {"inline_keyboard": [[{"text": "…", "callback_data": callback_data}]]},
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    async def _my_chat_member(
        self, chat: JSONDict, by_user_id: int, first_name: str, old: str, new: str
    ) -> int:
        now = int(time.time())
        member_update: JSONDict = {
            "chat": chat,
            "from": self._user(by_user_id, first_name, None),
            "date": now,
            "old_chat_member": {"user": self.bot_user, "status": old},
            "new_chat_member": {"user": self.bot_user, "status": new},
        }
        if new == "kicked":
            member_update["new_chat_member"]["until_date"] = 0
        return await self.inject_update({"my_chat_member": member_update})

    def _store_file(
        self, data: bytes, mime: str | None, filename: str | None, folder: str
    ) -> _StoredFile:
        self._file_counter += 1
        number = self._file_counter
        extension = _MIME_EXTENSIONS.get(mime or "")
        if extension is None and filename and "." in filename:
            extension = filename.rsplit(".", 1)[1]
        stored = _StoredFile(
            file_id=f"BQACAgUAAx{self.bot_id}F{number:08d}",
            file_unique_id=f"AgADF{number:06d}",
            file_path=f"{folder}/file_{number}.{extension or 'bin'}",
            data=data,
            mime=mime,
            filename=filename,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _photo_size(stored: _StoredFile) -> JSONDict:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 1280,
            "height": 960,
            "file_size": len(stored.data),
        }

    @staticmethod
    def _document(stored: _StoredFile) -> JSONDict:
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.filename:
            document["file_name"] = stored.filename
        if stored.mime:
            document["mime_type"] = stored.mime
        return document

    @staticmethod
    def _set_optional(message: JSONDict, key: str, value: Any) -> None:
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _record(
        self,
        method: str,
        chat_id: int,
        text: str | None,
        params: JSONDict,
        markup: JSONDict | None,
        message_id: int,
        photo: bytes | None = None,
        document: bytes | None = None,
        filename: str | None = None,
    ) -> None:
        parse_mode = params.get("parse_mode")
        self.sent.append(
            Sent(
                method=method,
                chat_id=chat_id,
                text=text,
                parse_mode=parse_mode if isinstance(parse_mode, str) else None,
                reply_markup=markup,
                photo=photo,
                document=document,
                filename=filename,
                message_id=message_id,
                at=time.monotonic(),
                params=params,
            )
        )
        self._notify_records()

    def _notify_records(self) -> None:
        # Swap in a fresh event so each waiter wakes once per change, without a lock.
        event, self._records_event = self._records_event, asyncio.Event()
        event.set()

    def _notify_updates(self) -> None:
        event, self._updates_event = self._updates_event, asyncio.Event()
        event.set()

    def _set_allowed(self, allowed: Any) -> None:
        if isinstance(allowed, list):
            # An empty list means "the default set", as in the Bot API.
            self._allowed_updates = frozenset(str(a) for a in allowed) or None

    def _allowed(self, update: JSONDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _confirm(self, offset: Any) -> None:
        if not isinstance(offset, int) or offset == 0:
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        else:
            self._pending = self._pending[offset:]

    def _deliverable(self, limit: int) -> list[JSONDict]:
        self._pending = [u for u in self._pending if self._allowed(u)]
        return self._pending[:limit]

    async def _push(self, update: JSONDict, secret: str | None, url: str) -> int:
        if self._client is None:
            raise RuntimeError("FakeTelegram is not running")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        update_id = update.get("update_id")
        status, error = 0, None
        try:
            async with self._client.post(
                url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._webhook_timeout),
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not 200 <= status <= 299:
            message = error or f"Wrong response from the webhook: {status}"
            self._webhook_last_error = (int(time.time()), message)
        self.webhook_deliveries.append(
            WebhookDelivery(
                update_id=update_id if isinstance(update_id, int) else None,
                status=status,
                at=time.monotonic(),
                error=error,
            )
        )
        self._notify_records()
        return status

    async def _drain_to_webhook(self) -> None:
        while self._pending and self.webhook_url is not None:
            update = self._pending[0]
            if self._allowed(update):
                status = await self._push(update, self.webhook_secret, self.webhook_url)
                if not 200 <= status <= 299:
                    return
            if self._pending and self._pending[0] is update:
                self._pending.pop(0)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def _button_data(markup: Any) -> Iterable[str]:
    if not isinstance(markup, dict):
        return ()
    return [
        button.get("callback_data", "")
        for row in markup.get("inline_keyboard", [])
        for button in row
        if isinstance(button, dict)
    ]


async def _serve(port: int, token: str) -> None:
    async with FakeTelegram(token=token, port=port) as tg:
        # The benchmark reads this line to learn where the server listens.
        print(f"READY {tg.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Run a fake server until interrupted (prints ``READY <base_url>`` once listening)."""
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123:ABC")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
