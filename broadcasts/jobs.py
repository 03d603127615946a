"""The broadcasts' part of the scheduler: the tick's work, and APScheduler jobs derived
from the broadcasts table.

The table is the truth: ``next_due_at`` says when a notice is next due, and every tick
starts whatever is due (so a restart, or a notice created by another process, loses
nothing). On top, each scheduled notice gets an APScheduler job with its own trigger —
rebuilt from the table at start and whenever a row changes — so it starts on the second
rather than at the next tick. Both paths meet at the occurrence's unique (broadcast, due
time), so a notice is never started twice.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.deps import Deps
from broadcasts import occurrences, reports, schedule
from broadcasts.fanout import KIND
from broadcasts.outbox import PRIORITY_BROADCAST
from storage import dialect
from storage.tables import Broadcast, Delivery

JOB_PREFIX = "broadcast:"


async def quiet_hold(db: AsyncSession, now: datetime, config: Config) -> int:
    """In quiet hours, routine notices not yet sent wait until the quiet hours end."""
    b = config.broadcasts
    until = schedule.quiet_until(now, b.quiet_start, b.quiet_end, config.bot.tz)
    if until is None:
        return 0
    return dialect.rowcount(await db.execute(update(Delivery).where(
        Delivery.state == "pending", Delivery.next_attempt_at < until, Delivery.kind == KIND,
        Delivery.priority == PRIORITY_BROADCAST).values(next_attempt_at=until)))


class BroadcastJobs:
    def __init__(self, deps: Deps, wake: Callable[[], None]) -> None:
        self.deps = deps
        self.wake = wake
        self._jobs: dict[int, datetime] = {}  # broadcast id → the row version its job has

    async def tick(self) -> int:
        """Start due occurrences, close finished ones (reports), hold quiet-hour sends."""
        now, config = self.deps.clock(), self.deps.config
        started = await occurrences.run_due(self.deps.db.uow, config, now)
        async with self.deps.db.uow() as s:
            finished = await reports.finish(s, now, config.bot.tz)
            await quiet_hold(s, now, config)
        if started or finished:
            self.wake()
        return started + finished

    async def run_one(self, broadcast_id: int) -> int:
        """An APScheduler job fired: start this notice's due occurrence now."""
        n = await occurrences.run_due(self.deps.db.uow, self.deps.config, self.deps.clock(),
                                      broadcast_id)
        if n:
            self.wake()
        return n

    async def sync(self, aps: BaseScheduler,
                   safe: Callable[[Callable[[], Awaitable[Any]]], Awaitable[None]]) -> int:
        """Make the APScheduler jobs match the scheduled notices; returns how many changed."""
        config = self.deps.config
        async with self.deps.db.read() as s:
            rows = (await s.execute(select(Broadcast.id, Broadcast.schedule, Broadcast.updated_at)
                                    .where(Broadcast.status == "scheduled",
                                           Broadcast.next_due_at.is_not(None)))).all()
        changed = 0
        for gone in set(self._jobs) - {r.id for r in rows}:
            if aps.get_job(f"{JOB_PREFIX}{gone}") is not None:
                aps.remove_job(f"{JOB_PREFIX}{gone}")
            del self._jobs[gone]
            changed += 1
        for bid, spec, version in rows:
            if self._jobs.get(bid) == version:
                continue
            self._jobs[bid] = version
            trig = schedule.trigger(spec, config.bot.tz)
            if trig is None:
                continue  # "now": the tick sends it
            aps.add_job(safe, trig, args=[functools.partial(self.run_one, bid)],
                        id=f"{JOB_PREFIX}{bid}", replace_existing=True, coalesce=True,
                        misfire_grace_time=max(1, config.broadcasts.grace_minutes * 60))
            changed += 1
        return changed
