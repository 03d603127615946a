"""The delivery dispatcher: claims due rows with a lease, sends them paced, records results.

Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` so
several workers never take the same row; a row whose lease ran out (its worker died) is
claimed again. :meth:`run` keeps about ``claim_seconds`` of sends claimed (the next batch
is claimed while the current one is sent; one chat's messages keep their order across
batches) and records results in small batches as they come (every ``flush_every``
seconds). A message can therefore repeat only if a worker died after sending it and
before recording it: the bound is what was sent in the last ``flush_every`` seconds plus
the requests in flight — never more than one claimed batch (measured in
docs/broadcasts.md). Hooks run in the transaction that records the outcome.

Pacing is the channel's (:mod:`bot.channels.pacing`). A chat that could not take a
message for more than ``defer_after`` seconds (a group at its 20 per minute) has the row
put back for later instead of holding up everyone else, and after a 429 the channel (for
a group: that chat) is held, by our clock, until ``retry_after`` has passed. Neither
counts as an attempt (see :mod:`broadcasts.results` for the retry policy).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, literal_column, select, update

from bot.channels.base import Channel, Failure, SendError
from bot.domain.messages import Reply
from broadcasts.outbox import PRIORITY_SOS
from broadcasts.results import BACKOFF, MAX_ATTEMPTS, Claimed, Defer, Hook, Hooks, Outcome, record
from storage.db import Database
from storage.dialect import rowcount
from storage.files import FileStore
from storage.tables import Delivery

__all__ = ["BACKOFF", "MAX_ATTEMPTS", "Claimed", "Defer", "Dispatcher", "Hook", "Hooks"]
log = logging.getLogger(__name__)
_COLUMNS = (Delivery.id, Delivery.kind, Delivery.channel, Delivery.chat_id, Delivery.is_group,
            Delivery.payload, Delivery.attempts, Delivery.case_id, Delivery.person_id,
            Delivery.broadcast_id, Delivery.priority, Delivery.occurrence_id)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(self, db: Database, channels: dict[str, Channel], files: FileStore,
                 clock: Callable[[], datetime], *, hooks: Hooks | None = None,
                 batch: int = 500, concurrency: int = 64, lease: timedelta = timedelta(
                     seconds=60), name: str | None = None, claim_seconds: float = 1.0,
                 flush_every: float = 0.2, defer_after: float = 2.0) -> None:
        self.db = db
        self.channels = channels
        self.files = files
        self.clock = clock
        self.hooks = hooks or Hooks()
        self.batch = batch  # the most rows one claim takes
        self.claim_seconds = claim_seconds  # … or about this many seconds of sending
        self.lease = lease
        self.name = name or worker_name()
        self.flush_every = flush_every
        self.defer_after = defer_after
        self._gate = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._stopping = False
        self._inflight = 0  # claimed rows not yet sent (or deferred)
        self._holding: set[int] = set()  # claimed here and not yet recorded
        self._renewed = 0.0
        self._tails: dict[tuple[str, str], asyncio.Future[None]] = {}  # per-chat order
        self._held: dict[tuple[str, str | None], datetime] = {}  # flood waits, by our clock
        self._results: list[tuple[Claimed, Outcome]] = []
        # Claims, renewals and result flushes take turns: on SQLite two of our own writers
        # would otherwise wait on each other's lock in the driver's sleeping busy loop.
        self._db_turn = asyncio.Lock()
        self._flushing: asyncio.Task[None] | None = None
        self._last_flush = 0.0
        # With several workers (bot.workers): the lanes of chats this one may claim now.
        self.lanes: Callable[[], ColumnElement[bool] | None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def claim_size(self) -> int:
        """About ``claim_seconds`` of sending at the fastest channel's pace."""
        rates = [p.per_second for ch in self.channels.values()
                 if (p := getattr(ch, "pacer", None)) is not None]
        if not rates:
            return self.batch
        return max(10, min(self.batch, int(max(rates) * self.claim_seconds)))

    async def claim(self, limit: int | None = None) -> list[Claimed]:
        """Take up to ``limit`` due rows (or rows whose lease expired) for this worker."""
        now = self.clock()
        # Open rows (this term, in literals, is ix_deliveries_claim's WHERE) that are due, or
        # whose lease ran out. Written as one CASE rather than an OR, so that both databases
        # walk that small index in (priority, id) order and stop at the batch — with an OR
        # they combine two index searches and sort every open row, 0.3–0.8 s at 100,000.
        open_ = Delivery.state.in_([literal_column("'pending'"), literal_column("'claimed'")])
        due = case((Delivery.state == "pending", Delivery.next_attempt_at <= now),
                   else_=Delivery.lease_until < now)
        pick = (select(Delivery.id).where(open_, due).order_by(Delivery.priority, Delivery.id)
                .limit(limit or self.claim_size()).with_for_update(skip_locked=True))
        if self._holding:  # a lease that ran out here must not hand us our own rows again
            pick = pick.where(Delivery.id.not_in(self._holding))
        only = self.lanes() if self.lanes is not None else None
        if only is not None:
            pick = pick.where(only)
        stmt = (update(Delivery).where(Delivery.id.in_(pick.scalar_subquery()))
                .values(state="claimed", claimed_by=self.name, lease_until=now + self.lease)
                .returning(*_COLUMNS).execution_options(synchronize_session=False))
        async with self._db_turn, self.db.uow() as s:
            rows = (await s.execute(stmt)).all()
        claimed = [Claimed(r.id, r.kind, r.channel, r.chat_id, r.is_group, dict(r.payload),
                           r.attempts, r.case_id, r.person_id, r.broadcast_id, r.priority,
                           r.occurrence_id) for r in rows]
        self._holding.update(c.id for c in claimed)
        return sorted(claimed, key=lambda c: (c.priority, c.id))

    async def renew(self) -> None:
        """Extend the leases of rows this worker still holds (a slow chat, a long flood
        wait), so no other worker takes them while they wait here."""
        self._renewed = asyncio.get_running_loop().time()
        if not self._holding:
            return
        async with self._db_turn, self.db.uow() as s:
            await s.execute(update(Delivery).where(
                Delivery.id.in_(list(self._holding)), Delivery.state == "claimed",
                Delivery.claimed_by == self.name).values(lease_until=self.clock() + self.lease))

    async def release(self) -> None:
        """Hand back the rows claimed here that have no outcome yet (a stop): pending
        again, no lease, so another worker takes them at once."""
        waiting = self._holding - {r.id for r, _ in self._results}
        if not waiting:
            return
        async with self._db_turn, self.db.uow() as s:
            result = await s.execute(update(Delivery).where(
                Delivery.id.in_(list(waiting)), Delivery.state == "claimed",
                Delivery.claimed_by == self.name).values(state="pending", lease_until=None))
        self._holding -= waiting
        log.info("released %d claimed deliveries", rowcount(result))

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were handled."""
        rows = await self.claim()
        if rows:
            await self._process(rows)
        return len(rows)

    async def _process(self, rows: list[Claimed]) -> None:
        self._inflight += len(rows)
        by_chat: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        for r in rows:
            by_chat[(r.channel, r.chat_id)].append(r)
        try:
            await asyncio.gather(*(self._send_chat(k, v) for k, v in by_chat.items()))
        finally:
            await self._flush()

    async def _send_chat(self, key: tuple[str, str], items: list[Claimed]) -> None:
        before = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if before is not None:
                await before  # this chat's earlier claims go first
            deferred: Defer | None = None
            waited = 0.0  # a chat waits at most ``defer_after`` per batch; the rest go back
            for item in items:  # one chat's messages keep their order
                if deferred is None:
                    deferred, delay = self._defer(item, waited)
                    waited += delay
                if deferred is not None:
                    self._done(item, deferred)
                    continue
                async with self._gate:
                    # Stopping: what has not started goes back at once for another worker.
                    stop = Defer(0.0, "stopping") if self._stopping else None
                    self._done(item, stop or await self._send(item))
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    def _defer(self, item: Claimed, waited: float) -> tuple[Defer | None, float]:
        """Put the row back rather than wait long (a flood wait, a chat at its pace), or
        say how long its chat will make it wait."""
        now = self.clock()
        for key in ((item.channel, None), (item.channel, item.chat_id)):
            until = self._held.get(key)
            if until is not None and until > now:
                return Defer((until - now).total_seconds(), "flood wait"), 0.0
            self._held.pop(key, None)
        pacer = getattr(self.channels.get(item.channel), "pacer", None)
        delay = pacer.chat_delay(item.chat_id, item.is_group) if pacer is not None else 0.0
        if delay > 0 and waited + delay > self.defer_after:
            return Defer(max(delay, 0.5)), 0.0
        return None, delay

    def _done(self, item: Claimed, outcome: Outcome) -> None:
        if isinstance(outcome, SendError) and outcome.failure is Failure.RETRY_AFTER:
            key = (item.channel, item.chat_id if item.is_group else None)
            until = self.clock() + timedelta(seconds=outcome.retry_after)
            self._held[key] = max(until, self._held.get(key, until))
        self._results.append((item, outcome))
        self._inflight -= 1
        if self._inflight < self.claim_size():
            self._progress.set()
        loop = asyncio.get_running_loop()
        if self._flushing is None and loop.time() - self._last_flush >= self.flush_every:
            self._flushing = loop.create_task(self._logged(self._flush()))

    async def _flush(self) -> None:
        """Record the outcomes gathered so far (one transaction, hooks included)."""
        async with self._db_turn:
            self._last_flush = asyncio.get_running_loop().time()
            results, self._results = self._results, []
            try:
                if results:
                    await record(self.db, self.hooks, results, self.clock())
                    self._holding.difference_update(r.id for r, _ in results)
            except Exception:
                self._results[:0] = results  # kept for the next flush
                raise
            finally:
                if self._flushing is asyncio.current_task():
                    self._flushing = None

    async def _send(self, row: Claimed) -> SendError | None:
        channel = self.channels.get(row.channel)
        if channel is None:
            return SendError(Failure.TRANSIENT, f"channel {row.channel} not running here")
        reply = Reply.from_dict(row.payload)
        sha = row.payload.get("photo_sha")
        if sha:
            # A purged photo must not block the text.
            with contextlib.suppress(OSError):
                reply = dataclasses.replace(reply, photo=self.files.get(sha))
        doc = row.payload.get("document_sha")
        if doc:
            try:
                reply = dataclasses.replace(reply, document=self.files.get(doc))
            except OSError:
                return SendError(Failure.PERMANENT, "document expired")
        try:
            # Below SOS, queued sends let replies to people chatting now go first.
            await channel.send(row.chat_id, reply, is_group=row.is_group,
                               background=row.priority > PRIORITY_SOS)
        except SendError as exc:
            return exc
        except Exception as exc:  # a bug in an adapter must not stop the whole queue
            log.exception("send crashed")
            return SendError(Failure.TRANSIENT, f"{type(exc).__name__}")
        return None

    async def drain(self, max_rounds: int = 1000) -> int:
        """Send until nothing is due (tests, CLI); returns the rows handled."""
        total = 0
        for _ in range(max_rounds):
            n = await self.run_once()
            if n == 0:
                break
            total += n
        return total

    async def run(self, idle_poll: float = 1.0) -> None:
        """Work until :meth:`stop`; sleeps until woken, a batch drains, or ``idle_poll``."""
        batches: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        renew_every = self.lease.total_seconds() / 3
        every = min(idle_poll, renew_every)
        while not self._stopping:
            if loop.time() - self._renewed >= renew_every:
                await self._logged(self.renew())
            rows: list[Claimed] = []
            # The next batch is claimed while one is still being sent: a claim takes a
            # while on a busy loop, and the sending must not run dry meanwhile.
            if self._inflight < self.claim_size():
                try:
                    rows = await self.claim()
                except Exception:
                    log.exception("dispatcher round failed; retrying")
                    await asyncio.sleep(idle_poll)
            if rows:
                task = asyncio.create_task(self._logged(self._process(rows)))
                batches.add(task)
                task.add_done_callback(batches.discard)
                continue
            self._wake.clear()
            self._progress.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._progress)]
            await asyncio.wait(waits, timeout=every, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
        await asyncio.gather(*batches)
        await self._logged(self._flush())
        await self._logged(self.release())  # normally none: every batch finished

    @staticmethod
    async def _logged(work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("dispatcher batch failed; its rows are claimed again after the lease")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
