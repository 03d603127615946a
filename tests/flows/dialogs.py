"""Shared steps for the whole-dialog tests: places, onboarding, staff, the web chat.

Everything here drives the real app (``BotHarness`` over the fake Telegram server, or the
web chat over its WebSocket); nothing stubs the engine or the database.
"""

from __future__ import annotations

import base64
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import RUNTIME, Runtime, create_app
from bot.config import Config
from bot.services import areas as areas_svc
from bot.services import demo, invites
from storage.db import Database, make_engine
from storage.repos import areas
from storage.tables import Area, Identity, Person
from tests.support.harness import BotHarness, TgUser, free_port

PROVINCE = "48"  # Thành phố Đà Nẵng
COMMUNE = "20242"  # Phường Hải Châu
VILLAGES = ("Tổ dân phố 1", "Tổ dân phố 2")
NASTY = "<b>x</b> & <script>"
NASTY_ESCAPED = "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;"
BOT_USERNAME = "binhyen_test_bot"


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, valid) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 \
    + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# --------------------------------------------------------------------------- data

async def seed_places(db: Database) -> None:
    """Đà Nẵng's communes plus two street groups in Phường Hải Châu."""
    async with db.uow() as s:
        await areas_svc.import_units(s, PROVINCE)
        from datetime import UTC, datetime
        for name in VILLAGES:
            await areas_svc.add_village(s, parent_code=COMMUNE, name=name, type_=None,
                                        at=datetime(2026, 1, 1, tzinfo=UTC), actor="test")


async def area_by_code(db: Database, code: str) -> Area:
    async with db.read() as s:
        area = await areas.by_code(s, code)
    assert area is not None, code
    return area


async def village(db: Database, index: int = 0) -> Area:
    commune = await area_by_code(db, COMMUNE)
    async with db.read() as s:
        return (await areas.children(s, commune.id))[index]


async def person_of(db: Database, channel: str, user_id: str | int) -> Person | None:
    async with db.read() as s:
        return (await s.execute(select(Person).join(Identity, Identity.person_id == Person.id)
                                .where(Identity.channel == channel,
                                       Identity.user_id == str(user_id)))).scalar_one_or_none()


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(table).where(*where)))
                   .scalar_one())


async def invite(h_db: Database, now: Any, role: str = "officer", area_code: str = COMMUNE,
                 valid_for: timedelta = timedelta(days=7), name: str | None = None) -> str:
    """A fresh invitation token, created the way the CLI creates it."""
    async with h_db.uow() as s:
        new = await invites.create(s, role=role, area_code=area_code, name=name,
                                   valid_for=valid_for, now=now, actor="test")
    return new.token


# --------------------------------------------------------------------------- Telegram

def raw_update(update_id: int, text: str = "/start", user_id: int = 4001) -> dict[str, Any]:
    """A private-chat message update, built by hand (for posting raw to the webhook)."""
    msg: dict[str, Any] = {
        "message_id": update_id, "date": 1_790_000_000, "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": "An", "language_code": "vi"},
        "chat": {"id": user_id, "type": "private", "first_name": "An"}}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0,
                            "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": msg}


@asynccontextmanager
async def harness(make_config: Callable[..., Config], db_url: str, clock: Any, *,
                  mode: str = "webhook", background: bool = False,
                  **overrides: dict[str, Any]) -> AsyncIterator[BotHarness]:
    """The whole app over the fake Telegram server, with Đà Nẵng's places loaded.

    The per-chat send pace is raised so dialogs run at full speed (the pacing itself is
    tested with the production limits in test_telegram_adapter).
    """
    overrides = {**overrides, "limits": {"per_chat_per_second": 1000,
                                         **overrides.get("limits", {})}}
    async with BotHarness(make_config, db_url, clock, mode=mode, background=background,
                          overrides=overrides) as h:
        await seed_places(h.rt.deps.db)
        yield h


def markups(u: TgUser) -> list[dict[str, Any]]:
    return [s.reply_markup for s in u.h.tg.sent_to(u.chat) if s.reply_markup]


def last_buttons(u: TgUser) -> list[str]:
    """Labels of the newest inline keyboard (or reply keyboard) sent to the user."""
    for m in reversed(markups(u)):
        rows = m.get("inline_keyboard") or m.get("keyboard")
        if rows:
            return [b if isinstance(b, str) else b.get("text", "") for r in rows for b in r]
    return []


def joined(sent: list[Any]) -> str:
    return "\n".join(s.text or "" for s in sent)


async def onboard(u: TgUser, *, language: str = "Tiếng Việt", village_label: str | None = None,
                  phone: str | None = "84912345678") -> None:
    """/start → agree → language → Đà Nẵng → Hải Châu → a street group → phone (or skip)."""
    await u.send("/start")
    await u.press("Đồng ý")
    await u.press(language)
    await u.send("da nang")
    await u.press("Đà Nẵng")
    await u.send("hai chau")
    await u.press("Hải Châu")
    await u.press(village_label or VILLAGES[0])
    if phone is None:
        await u.press("Bỏ qua" if language == "Tiếng Việt" else "Skip")
    else:
        await u.contact(phone)


async def make_staff(h: BotHarness, u: TgUser, role: str = "officer",
                     area_code: str = COMMUNE) -> list[Any]:
    """Invite ``u`` and accept; returns what the bot sent on acceptance."""
    token = await invite(h.rt.deps.db, h.rt.deps.clock(), role, area_code)
    await u.send(f"/start inv_{token}")
    return await u.press("Nhận vai trò")


def guard_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any name lookup that is not loopback: the tests must never reach the Internet."""
    real = socket.getaddrinfo
    attempts: list[str] = []

    def guarded(host: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(name)
            raise OSError(f"test tried to reach {name!r}: real network access is not allowed")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return attempts


# --------------------------------------------------------------------------- web chat

@dataclass
class WebChat:
    """A page visitor: GET /chat (cookie), then JSON over /chat/ws."""

    base: str
    session: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    async def open_page(self, query: str = "") -> str:
        async with self.session.get(f"{self.base}/chat{query}") as r:
            assert r.status == 200
            return await r.text()

    async def connect(self) -> list[dict[str, Any]]:
        """Open the socket; returns the history the server replays."""
        if self.ws is not None:
            await self.ws.close()
        self.ws = await self.session.ws_connect(f"{self.base}/chat/ws")
        first = await self.ws.receive_json(timeout=10)
        assert first["type"] == "history", first
        self.history = first["messages"]
        return self.history

    async def _send(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.ws is not None
        await self.ws.send_json(obj)
        got: list[dict[str, Any]] = []
        while True:
            msg = await self.ws.receive_json(timeout=10)
            if msg["type"] == "idle":
                self.received += got
                return got
            got.append(msg)

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self._send({"type": "text", "text": text})

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Press the newest button whose label contains ``label``."""
        for m in reversed(self.history + self.received):
            for row in m.get("choices") or []:
                for c in row:
                    if label in c["label"] and c.get("payload"):
                        return await self._send({"type": "choice", "payload": c["payload"],
                                                 "label": c["label"]})
        raise LookupError(f"no button containing {label!r}")

    async def press_payload(self, payload: str, label: str = "?") -> list[dict[str, Any]]:
        return await self._send({"type": "choice", "payload": payload, "label": label})

    async def contact(self, phone: str) -> list[dict[str, Any]]:
        return await self._send({"type": "contact", "phone": phone})

    async def photo(self, data: bytes) -> list[dict[str, Any]]:
        return await self._send({"type": "photo", "data": base64.b64encode(data).decode()})

    def last_text(self) -> str:
        return (self.history + self.received)[-1]["text"]

    @property
    def cookie(self) -> str:
        for c in self.session.cookie_jar:
            if c.key == "binhyen_chat":
                return c.value
        return ""


@dataclass
class WebApp:
    """The app without Telegram, served on a free loopback port."""

    config: Config
    runner: web.AppRunner | None = None
    demo_people: list[dict[str, str]] | None = None
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.config.web.port}"

    @property
    def rt(self) -> Runtime:
        assert self.runner is not None
        return self.runner.app[RUNTIME]

    async def start(self) -> None:
        db = Database(make_engine(self.config.database_url))
        await db.upgrade()
        await db.close()
        app = create_app(self.config, demo_people=self.demo_people, background=False)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.config.web.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def visitor(self) -> WebChat:
        # unsafe=True: the cookie jar keeps cookies for an IP-address host.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(session)
        return WebChat(self.base, session)

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        await self.stop()


@asynccontextmanager
async def web_app(make_config: Callable[..., Config], db_url: str, *, demo_mode: bool = False,
                  **sections: dict[str, Any]) -> AsyncIterator[WebApp]:
    bot = {"demo": demo_mode, **sections.pop("bot", {})}
    web_section = {"port": free_port(), **sections.pop("web", {})}
    config = make_config(db_url, web=web_section, bot=bot, **sections)
    app = WebApp(config, demo_people=demo.people_for_page() if demo_mode else None)
    await app.start()
    try:
        yield app
    finally:
        await app.close()


def all_urls(text: str) -> Iterator[str]:
    import re
    yield from re.findall(r"""(?:https?:)?//[A-Za-z0-9.\-]+(?::\d+)?""", text)
