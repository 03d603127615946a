"""What became of each claimed delivery, written back in one transaction with its hooks.

The retry policy lives here: a transient failure is retried after ``BACKOFF`` (attempts
counted, at most ``MAX_ATTEMPTS``); a 429 ``retry_after`` and a pacing deferral put the
row back without counting an attempt; an unreachable chat marks the identity unreachable;
anything else fails the row for good.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import Failure, SendError
from storage.db import Database
from storage.tables import Delivery, Identity

BACKOFF = (2, 10, 30, 120, 600, 1800, 3600)  # seconds after each transient failure
MAX_ATTEMPTS = len(BACKOFF) + 1


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    channel: str
    chat_id: str
    is_group: bool
    payload: dict
    attempts: int
    case_id: int | None
    person_id: int | None
    broadcast_id: int | None
    priority: int = 5
    occurrence_id: int | None = None


@dataclass(frozen=True)
class Defer:
    """Put the row back for ``seconds`` (a chat at its pace, a flood wait): no attempt."""

    seconds: float
    reason: str = "paced"


Outcome = SendError | Defer | None  # None: sent
Hook = Callable[[AsyncSession, Sequence[Claimed], datetime], Awaitable[None]]


@dataclass
class Hooks:
    """Called inside the transaction that records the outcome, per delivery kind."""

    sent: dict[str, Hook] = field(default_factory=dict)
    unreachable: dict[str, Hook] = field(default_factory=dict)
    failed: dict[str, Hook] = field(default_factory=dict)


def _values(row: Claimed, outcome: SendError | Defer, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"lease_until": None}
    if isinstance(outcome, Defer):
        return values | {"state": "pending",
                         "next_attempt_at": now + timedelta(seconds=outcome.seconds)}
    values["last_error"] = outcome.reason
    if outcome.failure is Failure.RETRY_AFTER:
        values.update(state="pending", next_attempt_at=now + timedelta(
            seconds=outcome.retry_after))
    elif outcome.failure is Failure.TRANSIENT and row.attempts + 1 < MAX_ATTEMPTS:
        values.update(state="pending", attempts=row.attempts + 1,
                      next_attempt_at=now + timedelta(seconds=BACKOFF[row.attempts]))
    else:
        values.update(state="failed", attempts=row.attempts + 1)
    return values


async def record(db: Database, hooks: Hooks, results: Sequence[tuple[Claimed, Outcome]],
                 now: datetime) -> None:
    """Write every outcome and run the hooks, all in one transaction."""
    sent = [r for r, o in results if o is None]
    unreachable = [r for r, o in results
                   if isinstance(o, SendError) and o.failure is Failure.UNREACHABLE]
    failed: list[Claimed] = []
    async with db.uow() as s:
        if sent:
            await s.execute(update(Delivery).where(Delivery.id.in_([r.id for r in sent]))
                            .values(state="sent", sent_at=now, lease_until=None,
                                    attempts=Delivery.attempts + 1))
        for row, outcome in results:
            if outcome is None or (isinstance(outcome, SendError)
                                   and outcome.failure is Failure.UNREACHABLE):
                continue
            values = _values(row, outcome, now)
            if values.get("state") == "failed":
                failed.append(row)
            await s.execute(update(Delivery).where(Delivery.id == row.id).values(**values))
        for row in unreachable:
            await s.execute(update(Delivery).where(Delivery.id == row.id).values(
                state="unreachable", lease_until=None, attempts=row.attempts + 1,
                last_error="unreachable"))
            await s.execute(update(Identity).where(
                Identity.channel == row.channel, Identity.chat_id == row.chat_id
            ).values(reachable=False))
        await _run_hooks(s, hooks.sent, sent, now)
        await _run_hooks(s, hooks.unreachable, unreachable, now)
        await _run_hooks(s, hooks.failed, failed, now)


async def _run_hooks(s: AsyncSession, hooks: dict[str, Hook], rows: list[Claimed],
                     now: datetime) -> None:
    by_kind: dict[str, list[Claimed]] = defaultdict(list)
    for r in rows:
        by_kind[r.kind].append(r)
    for kind, items in by_kind.items():
        hook = hooks.get(kind)
        if hook is not None:
            await hook(s, items, now)
