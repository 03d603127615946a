"""Prometheus metrics, one registry per process (no module-level globals).

Counters and histograms are updated where things happen; queue figures are read from the
database when ``/metrics`` is scraped, so every process reports the shared truth.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from storage.db import Database
from storage.tables import Delivery, Timer


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter("binhyen_updates_total", "Inbound updates handled",
                               ["channel"], registry=r)
        self.step_latency = Histogram(
            "binhyen_step_seconds", "Time to handle one update (transaction included)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)
        self.sends = Counter("binhyen_sends_total", "Messages sent by outcome",
                             ["channel", "outcome"], registry=r)
        self.throttled = Counter("binhyen_429_total", "Flood-control answers (429)",
                                 ["channel"], registry=r)
        self.deliveries = Gauge("binhyen_deliveries", "Delivery rows by state",
                                ["state"], registry=r)
        self.failures = Gauge("binhyen_delivery_failures", "Failed or unreachable rows by reason",
                              ["state", "reason"], registry=r)
        self.queue_depth = Gauge("binhyen_queue_depth", "Deliveries due now", registry=r)
        self.queue_age = Gauge("binhyen_queue_oldest_seconds",
                               "Age of the oldest due delivery", registry=r)
        self.timers_due = Gauge("binhyen_timers_due", "Timers (escalations, reminders) due",
                                registry=r)
        self.scheduler_leader = Gauge("binhyen_scheduler_leader",
                                      "1 when this process runs the scheduler", registry=r)
        self.workers = Gauge("binhyen_workers_sharing",
                             "Live delivery workers this one shares the send limits with "
                             "(itself included)", registry=r)

    async def refresh(self, db: Database, now: datetime) -> None:
        """Read the queue figures from the database (called at scrape time)."""
        async with db.read() as s:
            for state, n in (await s.execute(select(Delivery.state, func.count())
                                             .group_by(Delivery.state))).all():
                self.deliveries.labels(state).set(n)
            self.failures.clear()
            rows = (await s.execute(
                select(Delivery.state, Delivery.last_error, func.count())
                .where(Delivery.state.in_(("failed", "unreachable")))
                .group_by(Delivery.state, Delivery.last_error))).all()
            for state, reason, n in rows:
                self.failures.labels(state, (reason or "")[:60]).set(n)
            due, oldest = (await s.execute(
                select(func.count(), func.min(Delivery.next_attempt_at))
                .where(Delivery.state == "pending", Delivery.next_attempt_at <= now))).one()
            self.queue_depth.set(due)
            if oldest is not None:
                if oldest.tzinfo is None:
                    from datetime import UTC
                    oldest = oldest.replace(tzinfo=UTC)
                self.queue_age.set(max((now - oldest).total_seconds(), 0))
            else:
                self.queue_age.set(0)
            self.timers_due.set((await s.execute(
                select(func.count()).select_from(Timer)
                .where(Timer.state == "pending", Timer.due_at <= now))).scalar_one())

    def render(self) -> bytes:
        return generate_latest(self.registry)
