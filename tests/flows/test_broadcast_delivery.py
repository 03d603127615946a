"""Sending notices through the fake Telegram server with its flood limits on: paced under
30/s without 429s, a 429 honoured (the channel held, no attempt counted), 403 recipients
marked unreachable, a group kept to 20 a minute without holding up everyone else, and a
running notice paused, resumed and cancelled from chat."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.domain.messages import Reply
from broadcasts import compose, outbox
from storage.tables import Delivery, Identity
from tests.support import bc_world
from tests.support.bc_world import flooded as harness
from tests.support.bc_world import received, round_trip

PRODUCTION = {"limits": {"global_per_second": 30, "per_chat_per_second": 1,
                         "group_per_minute": 20}}
FIRE = "PHÒNG CHÁY"


async def notice_now(h: Any, area_id: int, author: Any, **kw: Any) -> int:
    draft = compose.Draft(template="fire", areas=[area_id], **kw)
    async with h.rt.deps.db.uow() as s:
        bc = await compose.create(s, draft, author_id=author.person_id,
                                  roles=[("leader", area_id)], config=h.rt.deps.config,
                                  now=h.rt.deps.clock())
        return bc.id


async def test_paced_under_the_limit_and_a_429_holds_the_channel(make_config, sqlite_url):
    async with harness(make_config, sqlite_url, None, background=True,
                       overrides=PRODUCTION) as h:
        w = await bc_world.world(h)
        chats = list(range(8001, 8061))
        await bc_world.residents(h, w.commune_id, chats)
        h.tg.set_limits(global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20)
        h.tg.fail_next("sendMessage", status=429, retry_after=1, chat_id=8010)
        started = time.monotonic()
        await notice_now(h, w.commune_id, w.leader)
        await h.tick()
        await h.tg.wait_for(lambda: all(received(h, c, FIRE) == 1 for c in chats), timeout=15)
        elapsed = time.monotonic() - started
        # The scripted 429; pacing causes none (an in-process fake on a loaded machine may
        # stamp a request late and answer one more 429, which is then honoured too).
        assert 1 <= h.tg.count_429 <= 2
        sends = sorted(s.at for s in h.tg.sent if FIRE in (s.text or ""))
        # After the 429 the channel was held for its retry_after second: one long gap.
        assert max(b - a for a, b in itertools.pairwise(sends)) >= 0.9
        assert max(sum(1 for s in sends if t <= s < t + 1) for t in sends) <= 30
        assert len(sends) == 63 and elapsed < 10  # 60 residents, 3 staff living there
        async with h.rt.deps.db.read() as s:
            row = (await s.execute(select(Delivery).where(Delivery.chat_id == "8010",
                                                          Delivery.kind == "broadcast"))
                   ).scalar_one()
        assert (row.state, row.attempts) == ("sent", 1)  # the 429 was not an attempt


async def test_blocked_recipients_are_unreachable_and_reported(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [8101, 8102, 8103])
        h.tg.block(8102)
        h.tg.fail_next("sendMessage", status=400, description="Bad Request: message is too long",
                       chat_id=8103)
        await notice_now(h, w.commune_id, w.leader)
        await round_trip(h)
        assert received(h, 8101, FIRE) == 1 and received(h, 8102, FIRE) == 0
        async with h.rt.deps.db.read() as s:
            reachable = (await s.execute(select(Identity.reachable).where(
                Identity.chat_id == "8102"))).scalar_one()
        assert reachable is False
        report = w.leader.last_text()
        assert "Không liên lạc được (đã chặn bot, xóa tài khoản): 1" in report
        assert "Lỗi: 1\n  · Message is too long: 1" in report
        assert await bc_world.states(h) == {"sent": 4, "unreachable": 1, "failed": 1}


async def test_a_group_at_its_20_a_minute_is_put_back_without_holding_up_others(
        make_config, sqlite_url, clock):
    # Telegram's 1 message a second in any chat is lifted here, so the minute's limit bites.
    limits = {"limits": {**PRODUCTION["limits"], "per_chat_per_second": 1000}}
    async with harness(make_config, sqlite_url, clock, overrides=limits) as h:
        h.tg.set_limits(global_per_sec=30, per_chat_per_sec=1000, per_group_per_min=20)
        async with h.rt.deps.db.uow() as s:
            for i in range(25):  # 25 notices for one group chat, 30 for private chats
                await outbox.enqueue(s, dedupe_key=f"g{i}", kind="broadcast", channel="telegram",
                                     chat_id="-2001", is_group=True, reply=Reply(f"Tin {i}"),
                                     at=clock.now, priority=outbox.PRIORITY_BROADCAST)
            for i in range(30):
                await outbox.enqueue(s, dedupe_key=f"p{i}", kind="broadcast", channel="telegram",
                                     chat_id=str(8200 + i), reply=Reply(f"Tin riêng {i}"),
                                     at=clock.now, priority=outbox.PRIORITY_BROADCAST)
        started = time.monotonic()
        await h.deliver()
        assert time.monotonic() - started < 5  # the group's wait did not stall the rest
        assert len(h.tg.sent_to(-2001)) == 20
        assert all(len(h.tg.sent_to(8200 + i)) == 1 for i in range(30))
        assert h.tg.count_429 == 0
        async with h.rt.deps.db.read() as s:
            later = (await s.execute(select(Delivery).where(Delivery.state == "pending")
                                     .order_by(Delivery.id))).scalars().all()
        assert [d.dedupe_key for d in later] == [f"g{i}" for i in range(20, 25)]
        assert all(d.attempts == 0 and d.next_attempt_at >= clock.now + timedelta(seconds=55)
                   for d in later)


async def test_one_chat_waits_at_most_a_moment_per_batch(make_config, sqlite_url, clock):
    """Telegram's one message a second per chat: a chat with many messages queued sends
    what fits in about two seconds and puts the rest back, so the batch is not held."""
    async with harness(make_config, sqlite_url, clock, overrides=PRODUCTION) as h:
        h.tg.set_limits(global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20)
        async with h.rt.deps.db.uow() as s:
            for i in range(10):
                await outbox.enqueue(s, dedupe_key=f"g{i}", kind="broadcast", channel="telegram",
                                     chat_id="-2002", is_group=True, reply=Reply(f"Tin {i}"),
                                     at=clock.now, priority=outbox.PRIORITY_BROADCAST)
        await h.deliver()
        # How many fit in the moment depends on the machine's speed; the behaviour that
        # matters: in order, a few at most, and the rest put back instead of waited for.
        sent = [s.text for s in h.tg.sent_to(-2002)]
        assert 1 <= len(sent) <= 3
        assert sent == [f"Tin {i}" for i in range(len(sent))]
        assert h.tg.count_429 == 0
        assert await bc_world.states(h) == {"sent": len(sent), "pending": 10 - len(sent)}


async def test_pause_resume_and_cancel_from_chat(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, range(8301, 8306))
        bid = await notice_now(h, w.commune_id, w.leader)
        await h.tick()  # rows written, nothing sent yet
        leader = w.leader.user
        await leader.send("/thongbao")
        await leader.press("Thông báo đã soạn")
        await leader.press(f"#{bid}")
        await leader.press("Tạm dừng")
        assert "8 tin chưa gửi được giữ lại" in leader.last_text()
        await round_trip(h)
        assert received(h, 8301, FIRE) == 0 and await bc_world.states(h) == {"held": 8}
        await leader.press_payload(f"!bcr:{bid}")
        assert "Đã cho gửi tiếp" in leader.last_text()
        await round_trip(h)
        assert received(h, 8301, FIRE) == 1 and "Đã gửi: 8" in leader.last_text()

        bid2 = await notice_now(h, w.commune_id, w.leader, urgent=True)
        await h.tick()
        await leader.press_payload(f"!bcx:{bid2}")
        assert "8 tin chưa gửi sẽ không gửi nữa" in leader.last_text()
        await round_trip(h)
        assert received(h, 8301, FIRE) == 1
        assert (await bc_world.broadcast(h, bid2)).status == "cancelled"
        await leader.press_payload(f"!bcp:{bid2}")
        assert "không làm được việc này" in leader.last_text()
