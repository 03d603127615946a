"""/dulieu on the built-in web chat, over the WebSocket: see, correct the name, copy as
one-time signed links that also expire (FakeClock), withdraw consent, delete — after
which nothing of the visitor is left and they can start afresh."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aiohttp import web
from sqlalchemy import func, select

from bot.app import create_app
from storage.db import Database, make_engine
from storage.tables import AuditEntry, Person, PrivacyRequest, WebChatMessage
from tests.flows.dialogs import WebApp, count, person_of, seed_places
from tests.flows.privacy_steps import SECTIONS, person_needles, traces
from tests.support.clock import FakeClock
from tests.support.harness import free_port

NAME = "Phạm Thị Thu Hà"


class ClockedWebApp(WebApp):
    """The web-chat app with a controllable clock (dialogs.WebApp uses the real one)."""

    clock: FakeClock

    async def start(self) -> None:
        db = Database(make_engine(self.config.database_url))
        await db.upgrade()
        await db.close()
        self.runner = web.AppRunner(create_app(self.config, clock=self.clock, background=False))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.config.web.port).start()


@asynccontextmanager
async def web_app(make_config, db_url: str, clock: FakeClock) -> AsyncIterator[ClockedWebApp]:
    config = make_config(db_url, web={"port": free_port(), "session_secret": "s" * 32})
    app = ClockedWebApp(config)
    app.clock = clock
    await app.start()
    try:
        yield app
    finally:
        await app.close()


def texts(out: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in out)


async def onboard(chat) -> None:
    await chat.say("/start")
    await chat.press("Đồng ý")
    await chat.press("Tiếng Việt")
    await chat.say("da nang")
    await chat.press("Đà Nẵng")
    await chat.say("hai chau")
    await chat.press("Phường Hải Châu")
    await chat.press("Tổ dân phố 1")
    await chat.contact("0912 345 678")


async def fetch(chat, url: str) -> tuple[int, bytes, str]:
    async with chat.session.get(chat.base + url) as r:
        return r.status, await r.read(), r.headers.get("Content-Disposition", "")


async def test_every_right_on_the_web_chat(make_config, sqlite_url, clock):
    async with web_app(make_config, sqlite_url, clock) as app:
        db = app.rt.deps.db
        await seed_places(db)
        chat = app.visitor()
        await chat.open_page()
        await chat.connect()
        await onboard(chat)
        cookie = chat.cookie

        # Correct: the web chat knows no name until the visitor gives one in /caidat.
        out = texts(await chat.say("/caidat"))
        assert "Tên: —" in out
        await chat.press("Tên")
        out = texts(await chat.say(NAME))
        assert f"Tên: {NAME}" in out
        assert (await person_of(db, "web", cookie)).display_name == NAME

        # See.
        await chat.say("/dulieu")
        out = texts(await chat.press("Xem"))
        assert NAME in out and "+84912345678" in out and "Tổ dân phố 1" in out
        assert "Mã yêu cầu: DL-26-" in out

        # Copy: "preparing", then three one-time links in the chat (kept in its history).
        await chat.say("/dulieu")
        assert "Đang chuẩn bị bản sao" in texts(await chat.press("Tải bản sao"))
        await app.rt.scheduler.tick()
        await app.rt.dispatcher.drain()
        history = await chat.connect()
        links = {m["document_name"]: m["document_url"] for m in history
                 if m.get("document_url")}
        assert sorted(links) == ["binhyen-20261123.csv", "binhyen-20261123.json",
                                 "binhyen-20261123.xlsx"]
        for url in links.values():
            assert url.startswith("/files/") and "sig=" in url and "once=1" in url
        status, body, disposition = await fetch(chat, links["binhyen-20261123.json"])
        assert status == 200 and "binhyen-20261123.json" in disposition
        data = json.loads(body)
        assert list(data) == list(SECTIONS) and data["profile"]["name"] == NAME
        assert data["accounts"][0] == {**data["accounts"][0], "channel": "web",
                                       "user_id": cookie}
        assert (await fetch(chat, links["binhyen-20261123.json"]))[0] == 410  # used once
        # A forged "reusable" variant of the link is refused too.
        assert (await fetch(chat, links["binhyen-20261123.json"].replace("&once=1", "")))[0] \
            == 403
        status, body, _ = await fetch(chat, links["binhyen-20261123.csv"])
        assert status == 200 and NAME.encode() in body
        # The workbook link is not used within its 24 hours: then it is dead.
        clock.advance(timedelta(hours=24, minutes=1))
        assert (await fetch(chat, links["binhyen-20261123.xlsx"]))[0] == 403
        async with db.read() as s:
            downloads = dict((await s.execute(select(AuditEntry.action, func.count()).where(
                AuditEntry.action.like("file.%")).group_by(AuditEntry.action))).all())
        assert downloads == {"file.download": 2, "file.download_refused": 1}

        # Withdraw consent.
        await chat.say("/dulieu")
        await chat.press("Rút lại đồng ý")
        assert "Đã rút lại đồng ý" in texts(await chat.press("Rút lại đồng ý"))
        assert not (await person_of(db, "web", cookie)).consent

        # Delete: nothing of the visitor is left, not even the chat history.
        await chat.say("/dulieu")
        await chat.press("Xóa dữ liệu")
        out = texts(await chat.press("Xóa vĩnh viễn"))
        assert "Đã xóa dữ liệu của bạn (mã DL-26-" in out
        assert await person_of(db, "web", cookie) is None
        assert await count(db, Person) == 0
        assert await count(db, WebChatMessage) == 0
        assert await chat.connect() == []
        # see, copy, withdraw, delete: kept, without the person
        assert await count(db, PrivacyRequest, PrivacyRequest.person_id.is_(None)) == 4
        needles = person_needles(names=[NAME], phone="+84912345678",
                                 accounts=[("web", cookie, cookie)])
        assert await traces(db, needles) == []

        # Starting afresh is a new registration.
        await chat.say("/start")
        out = texts(await chat.press("Đồng ý"))
        assert "ngôn ngữ" in out
        assert (await person_of(db, "web", cookie)) is not None
