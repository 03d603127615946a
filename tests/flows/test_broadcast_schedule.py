"""Schedules across restarts with a controllable clock: a notice that fell due while the
bot was down is sent once if within the grace window, otherwise recorded as missed and
reported; occurrences are unique; APScheduler jobs are rebuilt from the table at start."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from broadcasts import compose, occurrences
from storage.tables import BroadcastOccurrence
from tests.support import bc_world
from tests.support.bc_world import flooded as harness
from tests.support.bc_world import received, round_trip

SCAM = "CẢNH BÁO LỪA ĐẢO"
WEEKLY = {"kind": "weekly", "weekdays": [0], "time": "08:00", "until": "2027-02-28"}


async def weekly_scam(h, w) -> int:
    draft = compose.Draft(template="scams", areas=[w.commune_id], schedule=dict(WEEKLY))
    async with h.rt.deps.db.uow() as s:
        bc = await compose.create(s, draft, author_id=w.leader.person_id,
                                  roles=[("leader", w.commune_id)], config=h.rt.deps.config,
                                  now=h.rt.deps.clock())
        return bc.id


async def occurrence_states(h, bid: int) -> list[tuple[str, str]]:
    tz = h.rt.deps.config.bot.tz
    async with h.rt.deps.db.read() as s:
        rows = (await s.execute(select(BroadcastOccurrence).where(
            BroadcastOccurrence.broadcast_id == bid).order_by(BroadcastOccurrence.due_at))
        ).scalars().all()
    return [(f"{o.due_at.astimezone(tz):%d/%m %H:%M}", o.state) for o in rows]


async def test_down_at_the_due_time_then_back_within_grace_sends_once(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [9501])
        bid = await weekly_scam(h, w)
        await h.stop_app()  # the bot is down at Monday 08:00 …
        clock.now = datetime.fromisoformat(bc_world.MONDAY_0800) + timedelta(minutes=45)
        await h.start_app()  # … and back at 08:45: within the 60 minutes' grace
        await round_trip(h)
        await round_trip(h)
        assert received(h, 9501, SCAM) == 1
        assert await occurrence_states(h, bid) == [("30/11 08:00", "done")]


async def test_beyond_the_grace_window_it_is_missed_and_the_author_told(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock,
                       overrides={"broadcasts": {"grace_minutes": 30}}) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [9601])
        bid = await weekly_scam(h, w)
        await h.stop_app()
        # Down for two weeks and a bit: three Mondays passed; the last one 40 minutes ago.
        clock.now = datetime.fromisoformat(bc_world.MONDAY_0800) + timedelta(days=14,
                                                                             minutes=40)
        await h.start_app()
        await round_trip(h)
        assert received(h, 9601, SCAM) == 0
        assert await occurrence_states(h, bid) == [
            ("30/11 08:00", "missed"), ("07/12 08:00", "missed"), ("14/12 08:00", "missed")]
        told = w.leader.last_text()
        assert "đã không được gửi lúc 30/11 08:00, 07/12 08:00, 14/12 08:00" in told
        assert "lâu hơn 30 phút" in told and "Lần gửi tới: 21/12/2026 08:00" in told
        clock.now += timedelta(days=7) - timedelta(minutes=40)  # next Monday 08:00
        await round_trip(h)
        assert received(h, 9601, SCAM) == 1


async def test_an_occurrence_starts_once_however_often_it_is_asked(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, range(9701, 9704))
        bid = await weekly_scam(h, w)
        clock.now = datetime.fromisoformat(bc_world.MONDAY_0800)
        deps = h.rt.deps
        started = await asyncio.gather(*(occurrences.run_due(deps.db.uow, deps.config,
                                                             clock.now, bid) for _ in range(3)))
        assert sum(started) == 1
        await round_trip(h)
        await round_trip(h)
        assert [received(h, c, SCAM) for c in range(9701, 9704)] == [1, 1, 1]
        assert await occurrence_states(h, bid) == [("30/11 08:00", "done")]


async def test_apscheduler_jobs_are_rebuilt_from_the_table_at_start(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        bid = await weekly_scam(h, w)
        for _ in range(2):  # before and after a restart
            sched = h.rt.scheduler
            sched.start()
            try:
                await sched.tick()
                assert sched._aps is not None
                job = sched._aps.get_job(f"broadcast:{bid}")
                assert job is not None and "day_of_week='mon'" in str(job.trigger)
                assert "hour='8'" in str(job.trigger) and job.misfire_grace_time == 3600
            finally:
                sched.stop()
            await h.restart()
