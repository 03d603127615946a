"""Escalation and the daily digest, driven by the fake clock: an unacknowledged tip reminds
its officer and climbs to the commune's leader, then to the city's; pending escalations
survive a restart and fire once; leaders get their overdue cases each morning."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.seed import (
    all_strings,
    audit_count,
    case_by_ref,
    file_tip,
    harness,
    onboard,
    seed_world,
    texts,
)

TIPSTER = ("Nguyễn Thị Hoa", "hoa_nguyen_92", "7654321", "912345678")
REMINDER = "⏰ Nhắc: tin"
ESCALATED = "Tin chưa được tiếp nhận đúng hạn"


def count(h: Any, chat: int, needle: str) -> int:
    return sum(needle in t for t in texts(h.tg.sent_to(chat)))


async def setup(h: Any) -> tuple[Any, Any, str]:
    w = await seed_world(h)
    u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa", "hoa_nguyen_92")
    ref = await file_tip(u)  # TOGIAC: acknowledge within 60 minutes
    await h.deliver()
    return w, u, ref


async def test_unacknowledged_tip_reminds_then_climbs_commune_then_city(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, _u, ref = await setup(h)
        clock.advance(minutes=59)
        assert await h.tick() == 0

        clock.advance(minutes=2)  # past the 60-minute target
        assert await h.tick() == 1
        await h.deliver()
        assert count(h, w.officer.chat, REMINDER) == 1
        assert count(h, w.leader.chat, ESCALATED) == 1
        assert h.tg.sent_to(w.province_leader.chat) == []
        assert h.tg.sent_to(w.officer2.chat) == []  # not their case
        assert h.tg.sent_to(w.other_officer.chat) == []  # another commune
        escalation = next(s for s in h.tg.sent_to(w.leader.chat) if ESCALATED in (s.text or ""))
        assert ref in (escalation.text or "") and "!ack:" in str(escalation.reply_markup)
        assert (await case_by_ref(h, ref)).escalation_level == 1

        clock.advance(minutes=30)
        assert await h.tick() == 0
        clock.advance(minutes=31)  # another full target without acknowledgement
        assert await h.tick() == 1
        await h.deliver()
        assert count(h, w.province_leader.chat, ESCALATED) == 1
        assert count(h, w.leader.chat, ESCALATED) == 1
        assert (await case_by_ref(h, ref)).escalation_level == 2

        # Above the city there is nobody: the climb stops.
        clock.advance(minutes=61)
        await h.tick()
        clock.advance(hours=5)
        assert await h.tick() == 0
        await h.deliver()
        assert count(h, w.province_leader.chat, ESCALATED) == 1
        assert count(h, w.leader.chat, ESCALATED) == 1
        assert await audit_count(h, "case.escalate") == 3
        for member in (w.leader, w.province_leader):
            assert not [s for s in all_strings(h, member.chat) for p in TIPSTER if p in s]


async def test_acknowledging_stops_the_climb(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, _u, ref = await setup(h)
        clock.advance(minutes=61)
        await h.tick()
        await h.deliver()
        assert count(h, w.leader.chat, ESCALATED) == 1
        # The leader acknowledges from the escalation message itself.
        out = texts(await w.leader.user.press("Tiếp nhận"))
        assert "Đã tiếp nhận tin" in out[-1]
        clock.advance(hours=3)
        assert await h.tick() == 0  # acknowledging cancelled the pending level-1 check
        await h.deliver()
        assert h.tg.sent_to(w.province_leader.chat) == []
        assert count(h, w.officer.chat, REMINDER) == 1
        assert (await case_by_ref(h, ref)).escalation_level == 1


async def test_acknowledged_in_time_never_escalates(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, _u, _ref = await setup(h)
        clock.advance(minutes=20)
        await w.officer.user.press("Tiếp nhận")
        clock.advance(hours=6)
        assert await h.tick() == 0  # the timer was cancelled
        await h.deliver()
        assert h.tg.sent_to(w.leader.chat) == []
        assert count(h, w.officer.chat, REMINDER) == 0


async def test_pending_escalation_survives_a_restart_and_fires_once(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, _u, ref = await setup(h)
        await h.stop_app()  # the bot is down when the target passes
        clock.advance(minutes=75)
        await h.start_app()
        assert await h.tick() == 1
        await h.deliver()
        await h.restart()
        assert await h.tick() == 0
        await h.deliver()
        assert count(h, w.leader.chat, ESCALATED) == 1
        assert count(h, w.officer.chat, REMINDER) == 1
        # The next level is pending too, and also fires once after another restart.
        await h.restart()
        clock.advance(minutes=61)
        if h.rt.deps.db.is_postgres:
            # Two schedulers at once (two processes): the row lock lets one of them fire it.
            fired = await asyncio.gather(h.tick(), h.tick())
            assert sorted(fired) == [0, 1]
        else:
            assert await h.tick() == 1
        await h.deliver()
        assert count(h, w.province_leader.chat, ESCALATED) == 1
        assert count(h, w.leader.chat, ESCALATED) == 1
        assert (await case_by_ref(h, ref)).escalation_level == 2
        assert await audit_count(h, "case.escalate") == 2


async def test_daily_digest_sends_leaders_their_overdue_cases(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa", "hoa_nguyen_92")
        late = await file_tip(u)  # TOGIAC: 1 hour
        in_time = await file_tip(u, "Nhà trọ số 12 có người ở không khai báo",
                                 category="Vi phạm cư trú")  # CUTRU: 1 day
        acked = await file_tip(u, "Ổ gà lớn giữa đường", category="Khác")
        await h.deliver()
        case = await case_by_ref(h, acked)
        await w.officer.user.press_payload(f"!ack:{case.id}")
        clock.advance(hours=2)  # 12:00 in Đà Nẵng

        assert await h.rt.scheduler.daily_digest() == 2  # the ward's and the city's leader
        await h.deliver()
        for member in (w.leader, w.province_leader):
            (digest,) = [s for s in h.tg.sent_to(member.chat) if "quá hạn" in (s.text or "")]
            assert "23/11/2026: có 1 tin quá hạn" in (digest.text or "")
            buttons = str(digest.reply_markup)
            assert f"⏰ {late}" in buttons
            assert in_time not in buttons and acked not in buttons
        for member in (w.officer, w.officer2, w.other_officer):
            assert not any("quá hạn" in t for t in texts(h.tg.sent_to(member.chat)))

        # The same morning twice is one digest; the button opens the case.
        await h.rt.scheduler.daily_digest()
        await h.deliver()
        assert count(h, w.leader.chat, "tin quá hạn") == 1
        out = texts(await w.leader.user.press(late))
        assert late in out[-1]
        assert not [s for s in all_strings(h, w.leader.chat) for p in TIPSTER if p in s]


async def test_digest_lists_cases_past_their_closing_target(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, province_leader=False)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        ref = await file_tip(u)  # TOGIAC: close within 20 days
        await h.deliver()
        await w.officer.user.press("Tiếp nhận")
        clock.advance(days=21)
        assert await h.rt.scheduler.daily_digest() == 1
        await h.deliver()
        (digest,) = h.tg.sent_to(w.leader.chat)
        assert "có 1 tin quá hạn" in (digest.text or "") and ref in str(digest.reply_markup)
