"""Durable timers: escalations, re-sent SOS alerts, reminders. Rows, not in-memory jobs,
so a restart loses none; the scheduler fires the due ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.tables import Timer

TimerHandler = Callable[[AsyncSession, Timer, datetime], Awaitable[None]]


async def schedule(db: AsyncSession, kind: str, ref: object, due_at: datetime,
                   **data: Any) -> None:
    """Add a timer; the same (kind, ref, due_at) twice is one timer."""
    stmt = dialect.insert(db, Timer).values(kind=kind, ref=str(ref), due_at=due_at,
                                            state="pending", data=data)
    await db.execute(stmt.on_conflict_do_nothing())


async def restart(db: AsyncSession, kind: str, ref: object, due_at: datetime,
                  **data: Any) -> None:
    """Cancel the pending timers of (kind, ref) and start one at ``due_at`` (pending again
    even when a timer had that very time before)."""
    await cancel(db, kind, ref)
    stmt = dialect.insert(db, Timer).values(kind=kind, ref=str(ref), due_at=due_at,
                                            state="pending", data=data)
    await db.execute(stmt.on_conflict_do_update(
        index_elements=["kind", "ref", "due_at"],
        set_={"state": "pending", "data": data, "fired_at": None}))


async def cancel(db: AsyncSession, kind: str, ref: object) -> None:
    await db.execute(update(Timer).where(Timer.kind == kind, Timer.ref == str(ref),
                                         Timer.state == "pending").values(state="cancelled"))


async def fire_due(db_uow: Callable[[], Any], handlers: dict[str, TimerHandler],
                   now: datetime, limit: int = 100) -> int:
    """Run every due timer once, each in its own transaction; returns how many fired."""
    fired = 0
    while True:
        async with db_uow() as s:
            stmt = (select(Timer).where(Timer.state == "pending", Timer.due_at <= now)
                    .order_by(Timer.due_at, Timer.id).limit(1).with_for_update(skip_locked=True))
            timer = (await s.execute(stmt)).scalar_one_or_none()
            if timer is None:
                return fired
            handler = handlers.get(timer.kind)
            timer.state, timer.fired_at = "fired", now
            if handler is not None:
                await handler(s, timer, now)
        fired += 1
        if fired >= limit:
            return fired
