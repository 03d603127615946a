"""The built-in web chat: a channel whose "platform" is our own page and WebSocket.

Bot messages are stored (``webchat_messages``) before they are pushed, so a visitor who
reloads or reconnects sees the whole conversation, and a notification sent while the
page was closed is waiting when it opens again.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import weakref
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import select

from bot.channels import webchat_bus
from bot.domain.messages import ChatType, Inbound, Kind, Photo, Reply, esc
from bot.text import fold, nfc
from bot.web.links import Signer
from handlers.engine import Engine
from storage.db import Database
from storage.files import FileRejected, FileStore
from storage.tables import WebChatMessage

CHANNEL = "web"
PHOTO_TTL = timedelta(days=7)
DOCUMENT_TTL = timedelta(hours=24)
COOKIE = "binhyen_chat"
MAX_TEXT = 4000


def render(reply: Reply, msg_id: int = 0) -> dict[str, Any]:
    d = reply.to_dict()
    return {"type": "message", "id": msg_id, "from": "bot", "text": d["text"],
            "choices": d["choices"], "ask": d["ask"], "ask_label": d["ask_label"],
            "skip_label": d["skip_label"], "photo_url": "", "document_url": "",
            "document_name": reply.document_name}


class WebChatChannel:
    name = CHANNEL
    numbered = False

    def __init__(self, db: Database, files: FileStore, signer: Signer | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.files = files
        self.signer = signer
        self.clock = clock or (lambda: datetime.now(UTC))
        self.bus = False  # on PostgreSQL: push through NOTIFY to whichever process holds it
        self.engine: Engine | None = None
        self._sockets: dict[str, weakref.WeakSet[web.WebSocketResponse]] = {}
        # Ids this process already pushed itself: their NOTIFY echo is skipped, so a
        # direct reply reaches the page at once, in order, and before the "idle" mark.
        self._pushed_here: deque[int] = deque(maxlen=1000)

    async def send(self, chat_id: str, reply: Reply, *, is_group: bool = False,
                   background: bool = False, store: bool = True) -> None:
        """Store the message (unless ``store`` is False), then push it to the visitor's pages."""
        payload = render(reply)
        if self.signer is not None:
            now = self.clock()
            if reply.photo is not None:
                payload["photo_url"] = self.signer.url(self.files.put_any(reply.photo), now,
                                                       PHOTO_TTL)
            if reply.document is not None:
                name = reply.document_name or "binhyen.dat"
                # One download per link: a copy of someone's data must not be re-fetched
                # from a shared computer's history.
                payload["document_url"] = self.signer.url(self.files.put_any(reply.document),
                                                          now, DOCUMENT_TTL, name, once=True)
        if store:
            async with self.db.uow() as s:
                row = WebChatMessage(chat_id=chat_id, payload=payload)
                s.add(row)
                await s.flush()
                payload["id"] = row.id
                if self.bus:
                    # Other web processes push it from the NOTIFY; this one pushes it now.
                    await webchat_bus.notify(s, chat_id, row.id)
                    self._pushed_here.append(row.id)
        else:
            # No row, no id: the page skips messages whose id it already shows, so unstored
            # messages sharing a dummy id would all but the first be dropped.
            payload["id"] = None
        await self._push(chat_id, payload)

    async def _push(self, chat_id: str, payload: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(chat_id, ())):
            if not ws.closed:
                await ws.send_json(payload)

    async def close_sockets(self) -> None:
        """Close every open page's socket (on shutdown: the pages reconnect by themselves).

        aiohttp waits for running handlers before it stops, and a socket handler runs as
        long as the page is open, so without this a restart hangs for the whole timeout.
        """
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")

    async def push_stored(self, chat_id: str, message_id: int) -> None:
        """Push a stored message to this process's open pages of the visitor (bus)."""
        if not self._sockets.get(chat_id) or message_id in self._pushed_here:
            return
        async with self.db.read() as s:
            row = await s.get(WebChatMessage, message_id)
        if row is not None:
            await self._push(chat_id, {**row.payload, "id": row.id})

    async def _store_user(self, chat_id: str, text: str) -> None:
        # Stored as markup like the bot's messages, so the page renders history the same;
        # long numbers (ID, passport, phone) are masked: the history must never become a
        # second, unencrypted copy of what the bot stores encrypted.
        async with self.db.uow() as s:
            s.add(WebChatMessage(chat_id=chat_id, payload={
                "type": "message", "from": "user", "text": esc(mask_numbers(text)),
                "choices": []}))

    async def history(self, chat_id: str, limit: int = 300) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = (await s.execute(select(WebChatMessage).where(
                WebChatMessage.chat_id == chat_id).order_by(WebChatMessage.id.desc())
                .limit(limit))).scalars().all()
        out = []
        for r in reversed(rows):
            item = dict(r.payload)
            item["id"] = r.id
            out.append(item)
        return out

    # --- the WebSocket ------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        chat_id = request.cookies.get(COOKIE, "")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        if not valid_chat_id(chat_id):
            await ws.send_json({"type": "error", "text": "no session; reload the page"})
            await ws.close()
            return ws
        self._sockets.setdefault(chat_id, weakref.WeakSet()).add(ws)
        await ws.send_json({"type": "history", "messages": await self.history(chat_id)})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = msg.json()
            except ValueError:
                continue
            await self._on_message(chat_id, data if isinstance(data, dict) else {})
            # Tells the page (and tests) that everything this message caused was sent.
            await ws.send_json({"type": "idle"})
        return ws

    async def _on_message(self, chat_id: str, data: dict[str, Any]) -> None:
        parsed = await self._to_inbound(chat_id, data)
        if parsed is None or self.engine is None:
            return
        ev, shown = parsed
        outcome = await self.engine.handle(ev)
        # History is kept only for consenting people: a visitor who has not agreed (or
        # has just been erased) sees the conversation live, and nothing is stored.
        keep = outcome.registered
        if keep:
            await self._store_user(chat_id, shown)
        if outcome.stale:
            await self.send(chat_id, Reply(text=outcome.notice), store=keep)
        for reply in outcome.replies:
            await self.send(chat_id, reply, store=keep)

    async def _to_inbound(self, chat_id: str, data: dict[str, Any]
                          ) -> tuple[Inbound, str] | None:
        """The event and the text to show for the visitor's own message in history."""
        def ev(kind: Kind, **kw: Any) -> Inbound:
            return Inbound(channel=CHANNEL, chat_id=chat_id, user_id=chat_id, kind=kind,
                           chat_type=ChatType.PRIVATE, **kw)

        kind = data.get("type")
        if kind == "text":
            text = nfc(str(data.get("text", "")))[:MAX_TEXT]
            if not text:
                return None
            if text.startswith("/"):
                head, _, args = text[1:].partition(" ")
                return ev(Kind.COMMAND, command=fold(head), args=args.strip(), text=text), text
            return ev(Kind.TEXT, text=text), text
        if kind == "choice":
            label = nfc(str(data.get("label", "")))[:200]
            return ev(Kind.CHOICE, payload=str(data.get("payload", ""))[:64]), label
        if kind == "location":
            try:
                lat, lon = float(data["lat"]), float(data["lon"])
            except (KeyError, TypeError, ValueError):
                return None
            return ev(Kind.LOCATION, latitude=lat, longitude=lon), "📍"
        if kind == "contact":
            phone = str(data.get("phone", ""))[:32]
            return ev(Kind.CONTACT, phone=phone), phone
        if kind == "photo":
            try:
                raw = base64.b64decode(str(data.get("data", "")), validate=True)
                mime = self.files.check(raw)
            except (binascii.Error, ValueError) as exc:
                reason = exc.reason if isinstance(exc, FileRejected) else "errors.photo_type"
                return ev(Kind.PHOTO, payload=reason), "📷"
            return ev(Kind.PHOTO, photo=Photo(raw, mime)), "📷"
        return None


_LONG_NUMBER = re.compile(r"\d[\d .-]{6,}\d")


def mask_numbers(text: str) -> str:
    """``001090012345`` → ``0010******45``; short numbers (dates, house numbers) stay."""
    def mask(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if len(digits) < 8:
            return m.group(0)
        return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]
    return _LONG_NUMBER.sub(mask, text)


def new_chat_id() -> str:
    return "w" + secrets.token_urlsafe(18)


def valid_chat_id(value: str) -> bool:
    return 8 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)
