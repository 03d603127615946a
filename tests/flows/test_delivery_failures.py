"""The Bot API failing while an officer is notified: server errors, timeouts, flood control
and a blocked chat. The tip must arrive exactly once (or, after a timeout, at most once per
timed-out attempt more), and the tipster hears "received by the officer" only once the
notification was really delivered.

Observed duplicate bound: a request that times out on our side may still be carried out
by the server (the fake completes it after its delay, as Telegram would), and the retry
sends it again. Each timed-out attempt can therefore add one duplicate, never more; 5xx,
429 and 403 answers add none, because the server said it did not send.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import bot.channels.telegram as telegram_channel
from bot.channels.transport import AiohttpRequest
from bot.services import routing
from broadcasts.dispatcher import BACKOFF
from storage.repos import areas
from storage.tables import Identity
from tests.support.seed import (
    JPEG,
    audit_count,
    case_by_ref,
    deliveries,
    file_tip,
    harness,
    onboard,
    seed_world,
    texts,
)

NEW = "Tin mới"
DELIVERED = "đã đến cán bộ phụ trách"


def count(h: Any, chat: int, needle: str) -> int:
    return sum(needle in t for t in texts(h.tg.sent_to(chat)))


async def notify_row(h: Any) -> Any:
    (row,) = [d for d in await deliveries(h, kind="case_notify")]
    return row


async def setup(h: Any, **world: bool) -> tuple[Any, Any]:
    w = await seed_world(h, **world)
    u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa", "hoa_nguyen_92")
    return w, u


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_retried_with_backoff_and_delivered_once(
        make_config, sqlite_url, clock, status):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h)
        h.tg.fail_next("sendMessage", status=status, count=2, chat_id=w.officer.chat)
        ref = await file_tip(u)
        await h.deliver()
        row = await notify_row(h)
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.next_attempt_at == clock.now + timedelta(seconds=BACKOFF[0])
        assert row.last_error == {500: "Internal Server Error", 502: "Bad Gateway"}[status]
        assert count(h, w.officer.chat, NEW) == 0
        assert count(h, u.chat, DELIVERED) == 0
        assert (await case_by_ref(h, ref)).delivered_at is None

        clock.advance(seconds=BACKOFF[0] - 1)
        assert await h.deliver() == 0  # not due yet
        clock.advance(seconds=1)
        await h.deliver()  # the second failure
        row = await notify_row(h)
        assert (row.state, row.attempts) == ("pending", 2)
        assert row.next_attempt_at == clock.now + timedelta(seconds=BACKOFF[1])
        assert count(h, u.chat, DELIVERED) == 0

        clock.advance(seconds=BACKOFF[1])
        await h.deliver()
        row = await notify_row(h)
        assert (row.state, row.attempts) == ("sent", 3)
        assert count(h, w.officer.chat, NEW) == 1
        assert count(h, u.chat, DELIVERED) == 1
        assert (await case_by_ref(h, ref)).delivered_at == clock.now
        clock.advance(hours=1)
        await h.deliver()
        assert count(h, w.officer.chat, NEW) == 1 and count(h, u.chat, DELIVERED) == 1


class QuickTimeout(AiohttpRequest):
    """The bot's Bot API client with a 0.3 s read timeout, so a test needs no long waits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"read_timeout": 0.3, **kwargs})


async def test_a_timed_out_send_is_retried_and_duplicates_at_most_once(
        make_config, sqlite_url, clock, monkeypatch):
    monkeypatch.setattr(telegram_channel, "AiohttpRequest", QuickTimeout)
    async with harness(make_config, sqlite_url, clock, mode="webhook") as h:
        w, u = await setup(h)
        # The server holds the request past our read timeout, then sends it anyway.
        h.tg.delay_next("sendMessage", 0.8, chat_id=w.officer.chat)
        await file_tip(u)
        await h.deliver()
        row = await notify_row(h)
        assert (row.state, row.attempts) == ("pending", 1)
        assert "imed out" in (row.last_error or "")
        assert count(h, u.chat, DELIVERED) == 0  # we do not know it arrived

        await h.tg.wait_for(lambda: count(h, w.officer.chat, NEW) == 1, timeout=3)
        clock.advance(seconds=BACKOFF[0])
        await h.deliver()
        assert (await notify_row(h)).state == "sent"
        # One timed-out attempt: the officer has the tip twice — the bound is one
        # duplicate per timed-out attempt. The tipster is told once.
        assert count(h, w.officer.chat, NEW) == 2
        assert count(h, u.chat, DELIVERED) == 1


async def test_flood_control_is_waited_out_without_counting_as_failure(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h)
        # More 429s in a row than a failing message may have attempts: still no failure.
        h.tg.fail_next("sendMessage", status=429, retry_after=5, count=10,
                       chat_id=w.officer.chat)
        await file_tip(u)
        for _ in range(10):
            await h.deliver()
            row = await notify_row(h)
            assert (row.state, row.attempts) == ("pending", 0), row.last_error
            assert row.next_attempt_at == clock.now + timedelta(seconds=5)
            clock.advance(seconds=4)
            assert await h.deliver() == 0  # the wait is honoured
            clock.advance(seconds=1)
        await h.deliver()
        row = await notify_row(h)
        assert (row.state, row.attempts) == ("sent", 1)
        assert h.tg.count_429 == 10
        assert count(h, w.officer.chat, NEW) == 1
        assert count(h, u.chat, DELIVERED) == 1


async def test_flood_control_with_the_live_dispatcher_and_real_time(make_config, sqlite_url):
    async with harness(make_config, sqlite_url, None, background=True) as h:
        w, u = await setup(h)
        h.tg.fail_next("sendMessage", status=429, retry_after=1, chat_id=w.officer.chat)
        started = time.monotonic()
        await file_tip(u)
        await h.tg.wait_for(lambda: count(h, u.chat, DELIVERED) == 1, timeout=10)
        (sent,) = [s for s in h.tg.sent_to(w.officer.chat) if NEW in (s.text or "")]
        assert h.tg.count_429 == 1
        assert sent.at - started >= 1.0  # not before Telegram's retry_after
        assert (await notify_row(h)).attempts == 1


async def test_a_blocked_officer_is_marked_unreachable_and_the_tip_goes_to_a_colleague(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u = await setup(h)
        h.tg.block(w.officer.chat)
        ref = await file_tip(u)
        await h.deliver()
        first = [d for d in await deliveries(h, kind="case_notify")]
        assert [d.state for d in first] == ["unreachable", "sent"]
        async with h.rt.deps.db.read() as s:
            reachable = (await s.execute(select(Identity.reachable).where(
                Identity.person_id == w.officer.person_id))).scalar_one()
        assert reachable is False
        assert count(h, w.officer2.chat, "Tin được chuyển cho đồng chí") == 1
        assert (await case_by_ref(h, ref)).assignee_id == w.officer2.person_id
        assert count(h, u.chat, DELIVERED) == 1

        # The next tip is not left with the unreachable officer either.
        ref2 = await file_tip(u, "Có người bán hàng cấm trước cổng trường",
                              category="Tệ nạn xã hội")
        await h.deliver()
        assert sum(ref2 in t for t in texts(h.tg.sent_to(w.officer2.chat))) == 1
        assert (await case_by_ref(h, ref2)).assignee_id == w.officer2.person_id
        assert count(h, u.chat, DELIVERED) == 2


async def test_a_blocked_officer_with_a_rule_backup_hands_over_to_the_backup(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h)
        async with h.rt.deps.db.uow() as s:
            commune = await areas.by_id(s, w.commune_id)
            assert commune is not None
            await routing.set_rule(s, area=commune, category="TOGIAC",
                                   officer_id=w.officer.person_id,
                                   backup_id=w.leader.person_id, group_chat_id=None,
                                   actor_id=None, actor_label="test", at=clock.now)
        h.tg.block(w.officer.chat)  # the officer blocked the bot
        ref = await file_tip(u)
        await h.deliver()
        assert count(h, w.leader.chat, ref) == 1
        assert count(h, w.officer2.chat, ref) == 0
        assert (await case_by_ref(h, ref)).assignee_id == w.leader.person_id
        assert count(h, u.chat, DELIVERED) == 1


async def test_a_blocked_officer_without_colleagues_goes_to_the_leader(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h, officer2=False)
        h.tg.block(w.officer.chat)
        ref = await file_tip(u)
        await h.deliver()
        assert count(h, w.leader.chat, ref) == 1
        assert count(h, u.chat, DELIVERED) == 1
        # Still unacknowledged an hour later: the escalation skips the blocked officer.
        clock.advance(minutes=61)
        await h.tick()
        await h.deliver()
        assert count(h, w.province_leader.chat, "chưa được tiếp nhận") == 1
        assert h.tg.sent_to(w.officer.chat) == []


# --- a 403 on any later notice about a case passes the case on --------------------------

FORWARDED = "Tin được chuyển cho đồng chí"
ANSWER = "Người báo tin"


async def answer_through_my_reports(u: Any, ref: str, *messages: str | bytes) -> None:
    await u.send("/tincuatoi")
    await u.press(ref)
    await u.press("Bổ sung thông tin")
    for m in messages:
        await (u.send(m) if isinstance(m, str) else u.photo(m))
    await u.press("Xong")


async def test_a_relayed_answer_the_officer_cannot_get_goes_to_a_colleague(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u = await setup(h)
        ref = await file_tip(u)
        await h.deliver()
        await w.officer.user.press("Tiếp nhận")
        h.tg.block(w.officer.chat)  # later the officer blocks the bot
        await answer_through_my_reports(u, ref, "Xe Wave đỏ, biển 43", JPEG)
        await h.deliver()
        rows = await deliveries(h, kind="case_relay", person_id=w.officer.person_id)
        assert [r.state for r in rows] == ["unreachable", "unreachable"]
        await h.deliver()  # what the hook queued

        got = h.tg.sent_to(w.officer2.chat)
        assert count(h, w.officer2.chat, FORWARDED) == 1
        relayed = [m for m in got if ANSWER in (m.text or "")]
        assert "Xe Wave đỏ, biển 43" in (relayed[0].text or "")
        assert relayed[1].method == "sendPhoto" and relayed[1].photo == JPEG
        case = await case_by_ref(h, ref)
        assert case.assignee_id == w.officer2.person_id and case.status == "acknowledged"
        assert await audit_count(h, "case.reassign") == 1


async def test_a_reminder_the_officer_cannot_get_hands_the_tip_to_a_colleague(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h)
        ref = await file_tip(u)
        await h.deliver()
        h.tg.block(w.officer.chat)  # the notice arrived; then the officer blocked the bot
        clock.advance(minutes=61)
        assert await h.tick() == 1
        await h.deliver()
        await h.deliver()
        assert count(h, w.leader.chat, "chưa được tiếp nhận") == 1
        assert count(h, w.officer2.chat, FORWARDED) == 1
        assert (await case_by_ref(h, ref)).assignee_id == w.officer2.person_id
        # The next reminder goes to the colleague now holding it.
        clock.advance(minutes=61)
        await h.tick()
        await h.deliver()
        assert count(h, w.officer2.chat, "⏰ Nhắc") == 1


async def test_an_escalation_no_leader_of_a_tier_can_get_climbs_at_once(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await setup(h)
        ref = await file_tip(u)
        await h.deliver()
        h.tg.block(w.leader.chat)  # the ward leader blocked the bot
        clock.advance(minutes=61)
        await h.tick()
        await h.deliver()
        assert [d.state for d in await deliveries(h, kind="case_escalate",
                                                  person_id=w.leader.person_id)] == [
            "unreachable"]
        await h.deliver()  # the city's leader is alerted now, not an hour later
        assert count(h, w.province_leader.chat, "chưa được tiếp nhận") == 1
        assert count(h, w.officer.chat, "⏰ Nhắc") == 1  # one reminder, not two
        assert (await case_by_ref(h, ref)).escalation_level == 2


async def test_a_digest_the_leader_cannot_get_passes_their_cases_on(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        # No officers in the ward: its leader holds the tip.
        w, u = await setup(h, officer=False, officer2=False)
        ref = await file_tip(u)
        await h.deliver()
        assert (await case_by_ref(h, ref)).assignee_id == w.leader.person_id
        await w.leader.user.press("Tiếp nhận")
        h.tg.block(w.leader.chat)
        clock.advance(days=21)  # past the 20-day closing target
        assert await h.rt.scheduler.daily_digest() == 2  # the ward's and the city's leader
        await h.deliver()
        assert [d.state for d in await deliveries(h, kind="digest",
                                                  person_id=w.leader.person_id)] == [
            "unreachable"]
        await h.deliver()
        assert count(h, w.province_leader.chat, FORWARDED) == 1
        assert (await case_by_ref(h, ref)).assignee_id == w.province_leader.person_id
