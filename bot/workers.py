"""Several delivery workers, one bot: the live workers lease the bot's limits among them.

Telegram's limits — 30 messages a second (1,000 with paid broadcasts), one a second per
chat, 20 a minute per group — are per bot, however many processes send for it. On
PostgreSQL every worker keeps a row in ``workers`` and beats every ``heartbeat`` seconds;
it is live while its last beat (by the database's clock) is younger than ``DEAD_AFTER``
beats, so a dead worker drops out after about three missed beats. Each worker takes from
the live set, recomputed at every beat:

* **a share of the rate**: each channel's pacer runs at limit / n for n live workers;
* **a share of the chats**: every delivery row carries a lane (a hash of its chat,
  :func:`broadcasts.outbox.lane`); the k-th live worker (by start time) claims only rows
  with ``lane % n == k``. A chat is paced by one worker at a time, so the per-chat and
  per-group limits hold as exactly as in one process, and a dead worker's lanes (with
  the rows it had claimed, once their lease ends) pass to the others.

A change settles before it counts. For ``settle`` seconds after its view of the live set
changed, a worker claims only the lanes it owned under every view it held in that time,
and paces at the largest n among them. ``settle`` is more than a beat (by then every
worker has seen the change) plus a claim round (what was claimed under the old view has
been sent), so two workers never hold one chat at once, and the shares never add up to
more than the limit: a new worker claims nothing at first while the others slow down at
once, and after a departure the survivors speed up and take its lanes only once the
change has settled. A worker whose own beats have failed for ``DEAD_AFTER - 1`` beats
stops claiming (the others may be about to count it dead). A stopping worker records or
releases its claims first, then deletes its row.

On SQLite there is one process, hence one worker, and none of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, delete, false, func, select
from sqlalchemy.dialects.postgresql import insert

from storage.db import Database
from storage.tables import Delivery, Worker

log = logging.getLogger(__name__)

DEAD_AFTER = 3.5  # beats without a heartbeat before a worker no longer counts
FORGET_AFTER = timedelta(hours=1)  # rows of workers gone this long are deleted


@dataclass(frozen=True)
class View:
    """The live workers as one worker sees them: how many, and its own place."""

    size: int
    index: int | None  # None: this worker is not (yet) counted, so it claims nothing


def lane_filter(views: Iterable[View]) -> ColumnElement[bool] | None:
    """The rows a worker may claim under all of ``views`` (None: every row)."""
    terms: set[tuple[int, int]] = set()
    for v in views:
        if v.index is None:
            return false()
        if v.size > 1:
            terms.add((v.size, v.index))
    if not terms:
        return None
    return and_(*(Delivery.lane % size == index for size, index in sorted(terms)))


class Workers:
    """This process's row in ``workers``, its view of the live set, and what follows."""

    def __init__(self, db: Database, name: str, role: str, *, heartbeat: float = 2.0,
                 settle: float | None = None, on_share: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.name = name
        self.role = role
        self.heartbeat = heartbeat
        # A beat for every worker to notice, plus a claim round (about a second of sends,
        # two in flight at most) with room for a slow claim.
        self.settle = settle if settle is not None else 2 * heartbeat + 3.0
        self.on_share = on_share
        self.clock = clock
        self.history: list[tuple[float, View]] = []  # (since, view), oldest first
        self.shared = 0  # the n the pacers were last set for
        self._beat_ok = -math.inf
        self._started = False
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="workers")

    async def stop(self) -> None:
        """Leave: the others take this worker's lanes and rate once that has settled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self.db.uow() as s:
                await s.execute(delete(Worker).where(Worker.name == self.name))
        except Exception as exc:  # the row then simply ages out
            log.warning("could not remove this worker's row (%s)", type(exc).__name__)

    async def _run(self) -> None:
        while True:
            try:
                self.observe(await self.beat())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("worker heartbeat failed (%s); retrying", type(exc).__name__)
            self._share()
            await asyncio.sleep(self.heartbeat)

    # --- the live set -------------------------------------------------------------------
    async def beat(self) -> View:
        """Write this worker's heartbeat and read who is live (one transaction)."""
        now = func.now()
        row = insert(Worker).values(name=self.name, role=self.role, started_at=now,
                                    heartbeat_at=now)
        # A restart under the same name (a container's pid 1) starts anew.
        fresh = {"heartbeat_at": now, "role": self.role}
        if not self._started:
            fresh["started_at"] = now
        async with self.db.uow() as s:
            await s.execute(row.on_conflict_do_update(index_elements=["name"], set_=fresh))
            dead = timedelta(seconds=self.heartbeat * DEAD_AFTER)
            rows = (await s.execute(
                select(Worker.name, Worker.heartbeat_at > now - dead)
                .order_by(Worker.started_at, Worker.name))).all()
            await s.execute(delete(Worker).where(Worker.heartbeat_at < now - FORGET_AFTER))
        self._started = True
        self._beat_ok = self.clock()
        live = [name for name, ok in rows if ok]
        return View(len(live), live.index(self.name) if self.name in live else None)

    def observe(self, view: View) -> None:
        """Record the view of this beat; a change starts a settling period."""
        now = self.clock()
        if not self.history:
            # Others already sending: wait until they have seen us and slowed down.
            first = [View(view.size, None)] if view.size > 1 else []
            self.history = [(now, v) for v in [*first, view]]
        elif self.history[-1][1] != view:
            log.info("live workers: %d (this one is number %s)", view.size,
                     "-" if view.index is None else view.index + 1)
            self.history.append((now, view))
        cut = now - self.settle
        while len(self.history) > 1 and self.history[1][0] <= cut:
            self.history.pop(0)

    def views(self) -> list[View]:
        """Every view held at some moment of the last ``settle`` seconds."""
        cut = self.clock() - self.settle
        return [v for i, (_, v) in enumerate(self.history)
                if i + 1 == len(self.history) or self.history[i + 1][0] > cut]

    def fenced(self) -> bool:
        """True when our beats failed long enough for others to count us dead soon."""
        return self.clock() - self._beat_ok > (DEAD_AFTER - 1) * self.heartbeat

    def lanes(self) -> ColumnElement[bool] | None:
        """What the dispatcher may claim now (None: everything)."""
        if self.fenced() or not self.history:
            return false()
        return lane_filter(self.views())

    def share(self) -> int:
        """How many workers the limits are divided by now."""
        return max((v.size for v in self.views()), default=1) or 1

    def _share(self) -> None:
        n = self.share()
        if n != self.shared and self.on_share is not None:
            self.on_share(n)
        self.shared = n
