"""One scheduled purge for every kind of data, each with its own retention in config.

Each rule deletes (or unlinks) what has outlived its purpose and returns a count; the job
logs the counts (never the content) to the application log and the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.services import audit
from storage.dialect import rowcount
from storage.tables import Case, CaseRelay, Delivery, ProcessedUpdate, Timer, WebChatMessage

log = logging.getLogger(__name__)
Rule = Callable[[AsyncSession, datetime], Awaitable[int]]


def rules(config: Config) -> dict[str, Rule]:
    r = config.retention

    async def updates(db: AsyncSession, now: datetime) -> int:
        cutoff = now - timedelta(days=r.processed_updates_days)
        return rowcount(await db.execute(delete(ProcessedUpdate)
                                         .where(ProcessedUpdate.at < cutoff)))

    async def deliveries(db: AsyncSession, now: datetime) -> int:
        cutoff = now - timedelta(days=r.deliveries_days)
        done = ("sent", "failed", "unreachable", "cancelled")
        return rowcount(await db.execute(delete(Delivery).where(
            Delivery.state.in_(done), Delivery.created_at < cutoff)))

    async def webchat(db: AsyncSession, now: datetime) -> int:
        cutoff = now - timedelta(days=r.webchat_days)
        return rowcount(await db.execute(delete(WebChatMessage)
                                         .where(WebChatMessage.created_at < cutoff)))

    async def relays(db: AsyncSession, now: datetime) -> int:
        # The link back to an anonymous reporter outlives the case by a short grace only.
        cutoff = now - timedelta(days=r.relay_after_close_days)
        closed = select(Case.id).where(Case.status == "closed", Case.closed_at < cutoff)
        return rowcount(await db.execute(delete(CaseRelay).where(CaseRelay.case_id.in_(closed))))

    async def timers(db: AsyncSession, now: datetime) -> int:
        cutoff = now - timedelta(days=r.deliveries_days)
        return rowcount(await db.execute(delete(Timer).where(and_(
            Timer.state.in_(("fired", "cancelled")), Timer.due_at < cutoff))))

    return {"processed_updates": updates, "deliveries": deliveries, "webchat": webchat,
            "case_relays": relays, "timers": timers}


async def purge(db: AsyncSession, config: Config, now: datetime,
                extra: dict[str, Rule] | None = None) -> dict[str, int]:
    """Apply every retention rule once; returns what each removed."""
    counts = {}
    for name, rule in {**rules(config), **(extra or {})}.items():
        counts[name] = await rule(db, now)
    audit.record(db, "retention.purge", at=now, actor_label="scheduler", object_type="data",
                 **counts)
    log.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
