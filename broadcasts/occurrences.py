"""Occurrences: each due time of a broadcast, started exactly once.

``next_due_at`` on the broadcast row is the schedule's next time; when it has passed the
scheduler starts an occurrence (unique per broadcast and due time, so a second tick, a
second scheduler or an APScheduler job firing too finds it taken). Due times that passed
while the bot was down are sent once if at most ``[broadcasts] grace_minutes`` late (only
the newest); older ones are recorded as missed and the author is told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.messages import Reply, esc
from bot.i18n import t
from bot.services import audit, notify
from broadcasts import fanout, reports, schedule
from broadcasts.outbox import PRIORITY_STATUS
from broadcasts.templates import TemplateProblem
from storage import dialect
from storage.tables import Broadcast, BroadcastOccurrence

log = logging.getLogger(__name__)
MISSED_KEPT = 50  # missed times recorded per catch-up (a cron every minute, down a week…)


async def run_due(uow: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                  config: Config, now: datetime, broadcast_id: int | None = None) -> int:
    """Start every occurrence that is due, one broadcast per transaction; returns how many
    notices started sending."""
    started = 0
    seen: set[int] = set()
    while True:
        async with uow() as s:
            stmt = (select(Broadcast).where(Broadcast.status == "scheduled",
                                            Broadcast.next_due_at <= now)
                    .order_by(Broadcast.next_due_at, Broadcast.id).limit(1)
                    .with_for_update(skip_locked=True))
            if broadcast_id is not None:
                stmt = stmt.where(Broadcast.id == broadcast_id)
            if seen:
                stmt = stmt.where(Broadcast.id.not_in(seen))
            bc = (await s.execute(stmt)).scalar_one_or_none()
            if bc is None:
                return started
            seen.add(bc.id)
            started += await advance(s, bc, now, config)


async def advance(s: AsyncSession, bc: Broadcast, now: datetime, config: Config) -> int:
    """Walk ``bc``'s due times up to ``now``: send the newest within grace, record the rest."""
    tz, grace = config.bot.tz, timedelta(minutes=config.broadcasts.grace_minutes)
    due, send, missed = bc.next_due_at, None, []
    while due is not None and due <= now:
        if bc.expires_at is not None and due > bc.expires_at:
            due = None
            break
        nxt = schedule.next_due(bc.schedule, due, tz)
        if nxt is None or nxt > now:
            if now - due <= grace:
                send = due
            else:
                missed.append(due)
        else:
            missed.append(due)
        due = nxt
    bc.next_due_at, bc.updated_at = due, now
    if missed:
        await _missed(s, bc, missed, now, config)
    if send is None:
        return 0
    occ = await _occurrence(s, bc.id, send, "due")
    if occ is None or occ.state != "due":
        return 0  # already started elsewhere
    try:  # rendering and the audience's areas fail before anything is written
        n = await fanout.fan_out(s, bc, occ, now, config)
    except (TemplateProblem, ValueError) as exc:
        log.warning("broadcast %s could not be rendered: %s", bc.id, exc)
        occ.state, occ.finished_at = "failed", now
        await _tell(s, bc, now, f"bcfail:{occ.id}", "bc.template_error", error=esc(str(exc)))
        return 0
    audit.record(s, "broadcast.send", at=now, actor_label="scheduler",
                 object_type="broadcast", object_id=bc.id, recipients=n)
    return 1


async def _occurrence(s: AsyncSession, broadcast_id: int, due: datetime,
                      state: str) -> BroadcastOccurrence | None:
    await s.execute(dialect.insert(s, BroadcastOccurrence).values(
        broadcast_id=broadcast_id, due_at=due, state=state, recipients=0
    ).on_conflict_do_nothing(index_elements=["broadcast_id", "due_at"]))
    return (await s.execute(select(BroadcastOccurrence).where(
        BroadcastOccurrence.broadcast_id == broadcast_id, BroadcastOccurrence.due_at == due)
    )).scalar_one_or_none()


async def _missed(s: AsyncSession, bc: Broadcast, missed: list[datetime], now: datetime,
                  config: Config) -> None:
    for due in missed[-MISSED_KEPT:]:
        await _occurrence(s, bc.id, due, "missed")
    tz = config.bot.tz
    shown = ", ".join(f"{d.astimezone(tz):%d/%m %H:%M}" for d in missed[-5:])
    times = shown if len(missed) <= 5 else f"{len(missed)}× … {shown}"
    nxt = f"{bc.next_due_at.astimezone(tz):%d/%m/%Y %H:%M}" if bc.next_due_at else None
    await _tell(s, bc, now, f"bcmissed:{bc.id}:{missed[-1]:%Y%m%d%H%M}", "bc.missed",
                times=times, grace=config.broadcasts.grace_minutes, next=nxt)


async def _tell(s: AsyncSession, bc: Broadcast, now: datetime, key: str, text_key: str,
                **fmt: object) -> None:
    """A message to the author (delivery row); ``next=None`` reads "none left"."""
    if bc.author_id is None:
        return
    lang = await notify.language_of(s, bc.author_id)
    if "next" in fmt and fmt["next"] is None:
        fmt["next"] = t(lang, "bc.never")
    text = t(lang, text_key, id=bc.id, title=reports.title(bc, lang), **fmt)
    await notify.to_person(s, bc.author_id, Reply(text), kind="bc_report", key=key, at=now,
                           priority=PRIORITY_STATUS)
