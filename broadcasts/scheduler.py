"""The clock of the bot: APScheduler runs our jobs, our tables hold what is due.

Jobs are derived at start (``replace_existing``, ``coalesce``, a misfire grace time), so
no pickled callables live in the database and a restart loses nothing: due timers are
rows, and the tick fires whatever came due while the process was down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.deps import Deps
from bot.services import (
    arrival_jobs,
    arrival_timers,
    digest,
    privacy_jobs,
    retention,
    sos,
    timers,
    tips,
)
from broadcasts.jobs import BroadcastJobs

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, deps: Deps, wake: Callable[[], None], *, tick_seconds: float = 5.0,
                 digest_at: time = time(7, 30)) -> None:
        self.deps = deps
        self.wake = wake
        self.tick_seconds = tick_seconds
        self.digest_at = digest_at
        self.handlers: dict[str, timers.TimerHandler] = {
            tips.ACK_TIMER: sos.on_ack_timer, tips.SOS_TIMER: sos.on_timer,
            **privacy_jobs.handlers(deps.files), **arrival_timers.handlers()}
        self._aps: AsyncIOScheduler | None = None
        self._nudges: set[asyncio.Task[None]] = set()
        self.broadcasts = BroadcastJobs(deps, wake)  # notices: due, finished, quiet hours
        # Features with their own retention (e.g. declarations) add rules here.
        self.purge_rules: dict[str, retention.Rule] = {"arrivals": arrival_jobs.purge}

    async def tick(self) -> int:
        """Fire every due timer (escalations, SOS re-sends, reminders)."""
        fired = await timers.fire_due(self.deps.db.uow, self.handlers, self.deps.clock())
        if fired:
            self.wake()
        # Broadcasts: start due notices, report finished ones; their APScheduler jobs are
        # (re)built from the table here, the first time right at start.
        await self._safe(self.broadcasts.tick)
        if self._aps is not None:
            aps = self._aps
            await self._safe(lambda: self.broadcasts.sync(aps, self._safe))
        return fired

    async def purge(self) -> dict[str, int]:
        """The nightly retention purge (every data kind, counts logged)."""
        async with self.deps.db.uow() as s:
            return await retention.purge(s, self.deps.config, self.deps.clock(),
                                         self.purge_rules)

    def nudge(self) -> None:
        """Fire due timers soon (a job was just queued for "now")."""
        if self._aps is not None:
            task = asyncio.get_running_loop().create_task(self._safe(self.tick))
            self._nudges.add(task)
            task.add_done_callback(self._nudges.discard)

    async def arrivals_digest(self) -> int:
        """Officers' morning list of guests in their areas ([arrivals] digest_time)."""
        async with self.deps.db.uow() as s:
            n = await arrival_jobs.digest(s, self.deps.config, self.deps.clock())
        self.wake()
        return n

    async def daily_digest(self) -> int:
        now = self.deps.clock()
        local = now.astimezone(self.deps.config.bot.tz)
        async with self.deps.db.uow() as s:
            n = await digest.send_daily(s, now, f"{local:%d/%m/%Y}")
        self.wake()
        return n

    async def _safe(self, job: Callable[[], Awaitable[object]]) -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job failed; it runs again at its next time")

    def start(self) -> None:
        tz = self.deps.config.bot.tz
        aps = AsyncIOScheduler(timezone=tz)
        aps.add_job(self._safe, "interval", args=[self.tick], seconds=self.tick_seconds,
                    id="timers", replace_existing=True, coalesce=True, misfire_grace_time=60,
                    next_run_time=datetime.now(tz))
        aps.add_job(self._safe, CronTrigger(hour=self.digest_at.hour,
                                            minute=self.digest_at.minute, timezone=tz),
                    args=[self.daily_digest], id="digest", replace_existing=True,
                    coalesce=True, misfire_grace_time=3600)
        arr = self.deps.config.arrivals.digest_at
        aps.add_job(self._safe, CronTrigger(hour=arr.hour, minute=arr.minute, timezone=tz),
                    args=[self.arrivals_digest], id="arrivals_digest", replace_existing=True,
                    coalesce=True, misfire_grace_time=3600)
        h, _, m = self.deps.config.retention.purge_time.partition(":")
        aps.add_job(self._safe, CronTrigger(hour=int(h), minute=int(m), timezone=tz),
                    args=[self.purge], id="purge", replace_existing=True, coalesce=True,
                    misfire_grace_time=6 * 3600)
        aps.start()
        self._aps = aps

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
