"""Run the whole bot against the fake Telegram AND the fake Zalo server at once.

    async with ZaloHarness(make_config, sqlite_url, clock, zalo_mode="webhook") as h:
        await seed_places(h)
        lan = h.zuser("zl-1", "Lan")
        await lan.send("Xin chào")          # → the consent notice with "1. ✅ Đồng ý" …
        await lan.choose("Đồng ý")          # types the number the newest menu gives it
        officer = h.user(501, "Hùng")       # a Telegram user, as in BotHarness

``send``/``choose`` return once the bot has handled that event (replies sent), so tests
never sleep. Dispatcher and timers are driven by the test (``h.deliver()``, ``h.tick()``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Config
from bot.services import areas as areas_svc
from bot.services import invites
from tests.fakes.zalo_api import FakeZalo, Sent
from tests.support.harness import BotHarness, TgUser

ZTOKEN = "2718281828459045235:zalo-test-secret"
ZSECRET = "zalo-webhook-secret-123"
SESSION_SECRET = "test-session-secret-for-links"
PROVINCE, COMMUNE = "48", "20242"  # Thành phố Đà Nẵng, Phường Hải Châu
VILLAGES = ("Tổ dân phố 1", "Tổ dân phố 2")
# Pacing is tested on its own; dialogs here run unpaced.
UNPACED = {"limits": {"per_chat_per_second": 1000, "global_per_second": 10000,
                      "zalo_per_second": 10000}}
_ITEM = re.compile(r"(?:^|(?<=   ))(\d+)\. (.+?)(?=   \d+\. |$)")


def numbered_items(text: str) -> list[tuple[int, str]]:
    """The "n. label" choices of a Zalo message (two may share a line)."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines():
        if re.match(r"^\d+\. ", line):
            out += [(int(n), label.strip()) for n, label in _ITEM.findall(line)]
    return out


@dataclass
class ZaloUser:
    h: ZaloHarness
    user_id: str
    name: str = "Lan"
    seen: int = 0

    @property
    def chat(self) -> str:
        return self.user_id  # a private chat's id is the user's id

    def _new(self) -> list[Sent]:
        sent = self.h.zalo.sent_to(self.chat)
        fresh, self.seen = sent[self.seen:], len(sent)
        return fresh

    async def send(self, text: str) -> list[Sent]:
        """Type ``text``; returns what the bot sent back."""
        mid = await self.h.zalo.user_sends_text(self.user_id, text, self.name)
        await self.h.zhandled(mid)
        return self._new()

    def menu(self) -> list[tuple[int, str]]:
        """The numbered choices of the newest message that had any."""
        for s in reversed(self.h.zalo.sent_to(self.chat)):
            items = numbered_items(s.text or "")
            if items:
                return items
        return []

    async def choose(self, label: str) -> list[Sent]:
        """Type the number of the newest menu's choice whose label contains ``label``."""
        for n, text in self.menu():
            if label in text:
                return await self.send(str(n))
        raise LookupError(f"no choice containing {label!r} in {self.menu()!r}")

    async def photo(self, data: bytes, mime: str = "image/jpeg", caption: str = "") -> list[Sent]:
        mid = await self.h.zalo.user_sends_photo(self.user_id, data, mime, caption, self.name)
        await self.h.zhandled(mid)
        return self._new()

    def texts(self) -> list[str]:
        return self.h.zalo.texts(self.chat)

    def last_text(self) -> str:
        return self.texts()[-1] if self.texts() else ""

    def inbox(self) -> list[Sent]:
        """Everything sent to this chat since the last send/choose/inbox call."""
        return self._new()


@dataclass
class ZaloHarness(BotHarness):
    """:class:`BotHarness` plus a fake Zalo server wired into the same app."""

    zalo_mode: str = "polling"
    background: bool = False
    zalo: FakeZalo = field(init=False)

    async def __aenter__(self) -> ZaloHarness:
        self.zalo = FakeZalo(token=ZTOKEN)
        await self.zalo.start()
        merged = {k: dict(v) for k, v in UNPACED.items()}
        for k, v in self.overrides.items():
            merged[k] = {**merged.get(k, {}), **v}
        self.overrides = merged
        self.make_config = self._with_zalo(self.make_config)
        try:
            await super().__aenter__()
        except BaseException:
            await self.zalo.stop()
            raise
        return self

    def _with_zalo(self, base: Callable[..., Config]) -> Callable[..., Config]:
        fake, mode = self.zalo, self.zalo_mode

        def factory(db_url: str, **sections: dict[str, Any]) -> Config:
            port = sections["web"]["port"]
            z: dict[str, Any] = {"token": ZTOKEN, "api_url": fake.base_url, "mode": mode}
            if mode == "webhook":
                z |= {"webhook_url": f"http://127.0.0.1:{port}/zalo/webhook",
                      "webhook_secret": ZSECRET}
            sections["zalo"] = {**z, **sections.get("zalo", {})}
            sections["web"] = {"public_url": f"http://127.0.0.1:{port}",
                               "session_secret": SESSION_SECRET, **sections["web"]}
            return base(db_url, **sections)

        return factory

    async def __aexit__(self, *exc: object) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            await self.zalo.stop()

    async def zhandled(self, message_id: str, timeout: float = 10.0) -> None:
        assert self.rt.zalo is not None
        await self.rt.zalo.wait_handled(message_id, timeout)

    def zuser(self, user_id: str, name: str = "Lan") -> ZaloUser:
        return ZaloUser(self, user_id, name)


# --------------------------------------------------------------------------- a small world

async def seed_places(h: BotHarness) -> None:
    """Đà Nẵng's communes plus two street groups in Phường Hải Châu."""
    async with h.rt.deps.db.uow() as s:
        await areas_svc.import_units(s, PROVINCE)
        for name in VILLAGES:
            await areas_svc.add_village(s, parent_code=COMMUNE, name=name, type_=None,
                                        at=datetime(2026, 1, 1, tzinfo=UTC), actor="test")


async def make_officer(h: BotHarness, user: TgUser | ZaloUser, role: str = "officer") -> None:
    """Invite ``user`` as staff of Phường Hải Châu and accept, on their own channel."""
    async with h.rt.deps.db.uow() as s:
        new = await invites.create(s, role=role, area_code=COMMUNE, name=None,
                                   valid_for=timedelta(days=7), now=h.rt.deps.clock(),
                                   actor="test")
    await user.send(f"/start inv_{new.token}")
    # Someone new reads the personal-data notice first; a registered person does not.
    if isinstance(user, ZaloUser):
        out = await user.choose("Nhận vai trò")
        if any("Đồng ý" in (s.text or "") for s in out):
            await user.choose("Đồng ý")
    else:
        out = await user.press("Nhận vai trò")
        if "Đồng ý" in str([s.reply_markup for s in out]):
            await user.press("Đồng ý")


async def onboard_on_zalo(u: ZaloUser, phone: str = "0912345678") -> list[Sent]:
    """Hello → agree → Vietnamese → Đà Nẵng → Hải Châu → street group 1 → typed phone."""
    await u.send("Xin chào")
    await u.choose("Đồng ý")
    await u.choose("Tiếng Việt")
    await u.send("da nang")
    await u.choose("Đà Nẵng")
    await u.send("hai chau")
    await u.choose("Hải Châu")
    await u.choose(VILLAGES[0])
    return await u.send(phone)
