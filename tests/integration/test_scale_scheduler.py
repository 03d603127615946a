"""Two scheduler processes and a worker on one PostgreSQL: the leading scheduler is killed
with SIGKILL just before a weekly notice is due; the other takes over within
``[run] failover_seconds`` and the notice goes out exactly once (one occurrence, one
message per resident)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.config import build_config
from broadcasts import compose
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.tables import Broadcast, BroadcastOccurrence
from tests.support.databases import fresh_pg_database, require_pg
from tests.support.fake_telegram_process import FakeProcess
from tests.support.processes import (
    FAST,
    TOKEN,
    BotProcess,
    close_all,
    metric,
    migrated,
    now,
    seed_residents,
    start_all,
    write_config,
)

pytestmark = pytest.mark.postgres
RESIDENTS = 60
FAILOVER = 3.0  # [run] failover_seconds: followers try the lock every second


async def leader_of(procs: list[BotProcess]) -> list[bool]:
    flags = []
    for p in procs:
        _, text = await p.get("/metrics")
        flags.append(metric(text, "binhyen_scheduler_leader") == 1)
    return flags


async def test_a_killed_scheduler_is_replaced_and_the_weekly_notice_goes_out_once(
        tmp_path: Path) -> None:
    require_pg()
    async with fresh_pg_database() as url, FakeProcess(TOKEN) as tg:
        await migrated(url)
        area = await seed_residents(url, RESIDENTS)
        config = build_config({"security": {"data_key": generate_key()}}, environ={})
        db = Database(make_engine(url))
        try:
            async with db.uow() as s:
                draft = compose.Draft(template="scams", areas=[area], groups=False,
                                      urgent=True, schedule={"kind": "weekly",
                                                             "weekdays": [0], "time": "08:00"})
                bc = await compose.create(s, draft, author_id=None, roles=[("admin", area)],
                                          config=config, now=now(), actor_label="test")
                bid = bc.id
            cfg = write_config(tmp_path, url, tg.api, run={**FAST, "failover_seconds": FAILOVER},
                               limits={"global_per_second": 100})
            schedulers = await start_all(cfg, ("scheduler",), ("scheduler",))
            procs = [*schedulers, *await start_all(cfg, ("worker",))]
            try:
                for _ in range(100):
                    flags = await leader_of(schedulers)
                    if any(flags):
                        break
                    await asyncio.sleep(0.1)
                assert flags.count(True) == 1
                leader, follower = (schedulers if flags[0] else schedulers[::-1])
                # This week's slot comes in two seconds; the leader dies before it.
                due = now() + timedelta(seconds=2)
                async with db.uow() as s:
                    await s.execute(update(Broadcast).where(Broadcast.id == bid)
                                    .values(next_due_at=due))
                leader.kill()
                killed = time.monotonic()
                await leader.wait()
                while (await leader_of([follower])) != [True]:
                    assert time.monotonic() - killed < FAILOVER + 5, "no takeover"
                    await asyncio.sleep(0.05)
                takeover = time.monotonic() - killed
                stats = await tg.wait(lambda st: st["sent"] >= RESIDENTS, timeout=30)
                await asyncio.sleep(1.0)  # a second start would show up by now
                stats = await tg.stats()
            finally:
                await close_all(procs)
            async with db.read() as s:
                occ = (await s.execute(select(BroadcastOccurrence).where(
                    BroadcastOccurrence.broadcast_id == bid))).scalars().all()
                nxt = (await s.execute(select(Broadcast.next_due_at)
                                       .where(Broadcast.id == bid))).scalar_one()
        finally:
            await db.close()
        print(f"\ntakeover {takeover:.2f} s after SIGKILL (failover_seconds {FAILOVER})")
        assert takeover <= FAILOVER
        assert [(o.due_at, o.recipients) for o in occ] == [(due, RESIDENTS)]  # started once
        assert occ[0].state in ("sending", "done")
        assert nxt is not None and nxt > due + timedelta(days=1)  # next week's slot
        assert stats["sent"] == RESIDENTS
        assert set(stats["per_chat"].values()) == {1}
