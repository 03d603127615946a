"""The one nightly retention purge, driven by a controllable clock: each kind of data goes
when its own ``[retention]`` / ``[arrivals]`` period ends — processed update ids, finished
deliveries and timers, web-chat history, the reporter links of closed cases, declarations
— and nothing earlier; the job logs and audits counts only."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select

from bot.domain.messages import Reply
from broadcasts import outbox
from storage.tables import (
    Arrival,
    AuditEntry,
    Case,
    CaseRelay,
    Delivery,
    Guest,
    ProcessedUpdate,
    Timer,
    WebChatMessage,
)
from tests.flows.arrival_steps import AN, arrival_harness, arrival_world, declare
from tests.flows.dialogs import WebChat
from tests.support.seed import file_tip

RETENTION = {"processed_updates_days": 7, "deliveries_days": 30, "webchat_days": 60,
             "relay_after_close_days": 10}


async def rows(h, table, *where) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(table).where(*where))
                    ).scalar_one())


async def test_one_purge_applies_each_retention_period(make_config, sqlite_url, clock,
                                                        caplog):
    caplog.set_level(logging.INFO)
    async with arrival_harness(make_config, sqlite_url, clock, retention=RETENTION,
                               arrivals={"retention_days": 30}) as h:
        aw = await arrival_world(h)
        host, officer = aw.host, aw.w.officer.user
        await declare(host, [AN], until="1 đêm")
        await host.press("Gửi khai báo")
        closed = await file_tip(host, "Có người lạ ngủ ở nhà văn hóa tổ 1")
        still_open = await file_tip(host, "Xe tải đổ trộm phế thải ở bãi đất trống")
        await h.deliver()
        await officer.send("/viec")
        await officer.press(closed)
        await officer.press("Kết thúc")
        await officer.press("Đã giải quyết")
        await officer.send("Đã mời người này về trụ sở làm việc")
        await h.deliver()
        async with h.rt.deps.db.uow() as s:  # a message that could not be sent yet
            await outbox.enqueue(s, dedupe_key="waiting", kind="notify", channel="telegram",
                                 chat_id="424242", reply=Reply(text="…"), at=clock())
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            web = WebChat(f"http://127.0.0.1:{h.config.web.port}", s)
            await web.open_page()
            await web.connect()
            await web.say("/start")
            await web.press("Đồng ý")
        start = {t.__tablename__: await rows(h, t) for t in (
            ProcessedUpdate, Delivery, WebChatMessage, CaseRelay, Arrival, Timer)}
        assert all(start.values()), start

        async def purge_after(days: float) -> dict[str, int]:
            clock.now = start_at + timedelta(days=days)
            return await h.rt.scheduler.purge()

        start_at = clock()
        counts = await purge_after(1)
        assert set(counts) >= {"processed_updates", "deliveries", "webchat", "case_relays",
                               "timers", "arrivals"}
        assert not any(counts.values()), counts

        counts = await purge_after(8)
        assert counts["processed_updates"] == start["processed_updates"]
        assert sum(counts.values()) == counts["processed_updates"]

        counts = await purge_after(11)  # the closed case's link to its reporter
        assert counts["case_relays"] == 1 and sum(counts.values()) == 1
        async with h.rt.deps.db.read() as s:
            kept = (await s.execute(select(Case.ref).join(CaseRelay))).scalars().all()
        assert kept == [still_open]
        assert await rows(h, Case) == 2  # the reports themselves stay

        counts = await purge_after(31)  # finished deliveries and timers; not the waiting one
        assert counts["deliveries"] == start["deliveries"] - 1
        assert counts["timers"] > 0 and counts["arrivals"] == 0
        assert await rows(h, Delivery) == 1 and await rows(h, Delivery,
                                                           Delivery.state == "pending") == 1

        counts = await purge_after(32)  # the declaration: its stay ended 30 days ago
        assert counts["arrivals"] == 1 and await rows(h, Guest) == 0

        counts = await purge_after(61)
        assert counts["webchat"] == start["webchat_messages"]
        assert await rows(h, WebChatMessage) == 0

        async with h.rt.deps.db.read() as s:
            entries = (await s.execute(select(AuditEntry).where(
                AuditEntry.action == "retention.purge").order_by(AuditEntry.id))).scalars().all()
        assert len(entries) == 6
        assert all(set(e.details) == set(counts) for e in entries)
        assert all(isinstance(v, int) for e in entries for v in e.details.values())
        assert "retention purge: processed_updates=" in caplog.text
