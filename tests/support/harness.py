"""Run the whole bot against the fake Telegram server, and talk to it as users do.

    async with BotHarness(make_config, db_url, clock, mode="polling") as h:
        alice = h.user(1001, "Alice")
        await alice.send("/start")
        await alice.press("Đồng ý")
        assert "ngôn ngữ" in alice.last_text()

``send``/``press`` return once the bot has handled that update (replies sent), so tests
never sleep. ``background=False`` leaves the dispatcher and scheduler to the test:
``await h.deliver()`` sends queued notifications, ``await h.tick()`` fires due timers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.app import RUNTIME, Runtime, create_app
from bot.config import Config
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.support.clock import FakeClock

TOKEN = "123456:TEST-token"
SECRET = "test-webhook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TgUser:
    h: BotHarness
    user_id: int
    first_name: str = "An"
    username: str | None = None
    chat_id: int | None = None  # a group chat, when the user speaks in one
    seen: int = 0  # how many sends to this chat were already returned

    @property
    def chat(self) -> int:
        return self.chat_id if self.chat_id is not None else self.user_id

    def _new(self) -> list[Sent]:
        sent = self.h.tg.sent_to(self.chat)
        fresh, self.seen = sent[self.seen:], len(sent)
        return fresh

    async def _after(self, update_id: int) -> list[Sent]:
        await self.h.handled(update_id)
        return self._new()

    async def send(self, text: str, reply_to: Sent | None = None) -> list[Sent]:
        """Send ``text``; ``reply_to`` makes it a reply (swipe-to-reply) to that message."""
        kind = "group" if self.chat_id is not None and self.chat_id < 0 else "private"
        uid = await self.h.tg.user_sends_text(
            self.user_id, text, chat_id=self.chat_id, first_name=self.first_name,
            username=self.username, chat_type=kind,
            reply_to_message_id=reply_to.message_id if reply_to else None)
        return await self._after(uid)

    async def press(self, label: str) -> list[Sent]:
        """Press the newest button (inline or reply keyboard) whose label contains ``label``."""
        for sent in reversed(self.h.tg.sent_to(self.chat)):
            markup = sent.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if label in b.get("text", "") and "callback_data" in b:
                        uid = await self.h.tg.user_presses(
                            self.user_id, b["callback_data"], message_id=sent.message_id,
                            chat_id=self.chat, first_name=self.first_name,
                            username=self.username)
                        return await self._after(uid)
            for row in markup.get("keyboard", []):
                for b in row:
                    text = b if isinstance(b, str) else b.get("text", "")
                    if label in text:
                        return await self.send(text)
        raise LookupError(f"no button containing {label!r} in chat {self.chat}")

    async def press_payload(self, payload: str, message_id: int | None = None) -> list[Sent]:
        uid = await self.h.tg.user_presses(self.user_id, payload, message_id=message_id,
                                           chat_id=self.chat, first_name=self.first_name)
        return await self._after(uid)

    async def photo(self, data: bytes, mime: str = "image/jpeg", caption: str = "",
                    reply_to: Sent | None = None) -> list[Sent]:
        uid = await self.h.tg.user_sends_photo(
            self.user_id, data, mime=mime, caption=caption, first_name=self.first_name,
            reply_to_message_id=reply_to.message_id if reply_to else None)
        return await self._after(uid)

    async def contact(self, phone: str, own: bool = True) -> list[Sent]:
        uid = await self.h.tg.user_shares_contact(
            self.user_id, phone, first_name=self.first_name,
            contact_user_id=self.user_id if own else self.user_id + 1)
        return await self._after(uid)

    async def location(self, lat: float, lon: float) -> list[Sent]:
        uid = await self.h.tg.user_shares_location(self.user_id, lat, lon,
                                                   first_name=self.first_name)
        return await self._after(uid)

    def texts(self) -> list[str]:
        return [s.text or "" for s in self.h.tg.sent_to(self.chat)]

    def last_text(self) -> str:
        return self.h.tg.last(self.chat).text or ""

    def inbox(self) -> list[Sent]:
        """Everything sent to this chat since the last send/press/inbox call."""
        return self._new()


@dataclass
class BotHarness:
    make_config: Callable[..., Config]
    db_url: str
    clock: FakeClock | None = None
    mode: str = "polling"
    background: bool = True
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    tg: FakeTelegram = field(init=False)
    runner: web.AppRunner | None = field(init=False, default=None)
    config: Config = field(init=False)

    async def __aenter__(self) -> BotHarness:
        self.tg = FakeTelegram(token=TOKEN)
        await self.tg.start()
        port = free_port()
        tg = {"token": TOKEN, "api_url": self.tg.base_url, "file_url": self.tg.base_file_url,
              "mode": self.mode}
        if self.mode == "webhook":
            tg |= {"webhook_url": f"http://127.0.0.1:{port}/telegram/webhook",
                   "webhook_secret": SECRET}
        sections = {"telegram": tg, "web": {"port": port}}
        for k, v in self.overrides.items():
            sections[k] = {**sections.get(k, {}), **v}
        self.config = self.make_config(self.db_url, **sections)
        await self.start_app()
        return self

    async def start_app(self) -> None:
        from storage.db import Database, make_engine
        db = Database(make_engine(self.config.database_url))
        await db.upgrade()
        await db.close()
        app = create_app(self.config, clock=self.clock, background=self.background)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.config.web.port).start()

    async def stop_app(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self) -> None:
        """Stop the bot process and start a new one on the same database and fake."""
        await self.stop_app()
        await self.start_app()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_app()
        await self.tg.stop()

    @property
    def rt(self) -> Runtime:
        assert self.runner is not None
        return self.runner.app[RUNTIME]

    async def handled(self, update_id: int, timeout: float = 10.0) -> None:
        assert self.rt.telegram is not None
        await self.rt.telegram.wait_handled(update_id, timeout)

    async def deliver(self) -> int:
        return await self.rt.dispatcher.drain()

    async def tick(self) -> int:
        return await self.rt.scheduler.tick()

    def user(self, user_id: int, first_name: str = "An", username: str | None = None,
             chat_id: int | None = None) -> TgUser:
        return TgUser(self, user_id, first_name, username, chat_id)
