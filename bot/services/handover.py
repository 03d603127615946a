"""Passing a case on: when an officer reassigns it ("🔁 Chuyển"), and when the person or
duty group holding it cannot be reached — a 403 on any notice about it (new case, SOS
alert, relayed answer, reminder, escalation, digest) — so no tip is left with nobody."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from bot.i18n import t
from bot.services import audit, case_actions, cases, categories, timers, tips
from broadcasts.results import Claimed
from storage.tables import Case, Delivery

_ESCALATION_KEY = re.compile(r"^case:\d+:esc:(\d+):")
_CASE_BUTTON = re.compile(r"^!case:(\d+)$")


async def hand_to(db: AsyncSession, case: Case, person_id: int, now: datetime, *,
                  key: str) -> None:
    """Make ``person_id`` the assignee and send them the case headed "forwarded to you"."""
    case.assignee_id = person_id
    await tips._notify_staff(db, case, person_id, now, kind="case_notify", key=key,
                             heading_key="officer.forwarded")


async def reassign(db: AsyncSession, case: Case, new_officer_id: int, actor_id: int,
                   now: datetime) -> None:
    """"🔁 Chuyển": the colleague gets the case, the reporter hears in plain words that
    another officer follows it up (never who), and an unacknowledged tip's acknowledge
    timer starts again for the new officer."""
    audit.record(db, "case.reassign", at=now, actor_id=actor_id, object_type="case",
                 object_id=case.ref, old=case.assignee_id, new=new_officer_id)
    stamp = f"{now.timestamp():.0f}"
    await hand_to(db, case, new_officer_id, now,
                  key=f"case:{case.id}:fwd:{new_officer_id}:{stamp}")
    lang = await tips.reporter_lang(db, case)
    await tips.tell_reporter(db, case, f"fwd:{new_officer_id}", now,
                             text=t(lang, "status.reassigned", ref=case.ref))
    if case.acknowledged_at is None and case.status in ("new", "routed") \
            and case.kind != "sos":  # an SOS keeps its own re-send rounds
        cat = await categories.get(db, case.category_code, None)
        case.escalation_level = 0  # a missed window goes to the new officer's leaders
        await timers.restart(db, tips.ACK_TIMER, case.id,
                             now + timedelta(minutes=cat.ack_minutes if cat else 60), level=0)


async def pass_on(db: AsyncSession, case: Case, failed: int | None, now: datetime, *,
                  key: str, escalate: bool = True) -> int | None:
    """Move the case from ``failed`` (None: a duty group) to the first reachable of the
    rule's officer, its backup and the area chain's officers and leaders; with nobody,
    escalate an unacknowledged case (unless ``escalate`` is off). Returns the new holder."""
    backup = await case_actions.backup_for(db, case, failed)
    if backup is None:
        if escalate and case.status in ("new", "routed"):
            await case_actions.escalate(db, case, now, reason="unreachable")
        return None
    audit.record(db, "case.reassign", at=now, actor_label="delivery", object_type="case",
                 object_id=case.ref, old=failed, new=backup, reason="unreachable")
    await hand_to(db, case, backup, now, key=f"{key}:{backup}")
    return backup


# --- dispatcher hooks: the recipient blocked the bot, left, or lost the group ----------

async def on_notify_unreachable(db: AsyncSession, rows: Sequence[Claimed],
                                now: datetime) -> None:
    """A new-case notice or SOS alert failed: the backup or a colleague takes the tip."""
    for row in rows:
        case = await db.get(Case, row.case_id) if row.case_id else None
        if case is not None and case.status in ("new", "routed"):
            await pass_on(db, case, row.person_id, now, key=f"case:{case.id}:backup")


async def on_relay_unreachable(db: AsyncSession, rows: Sequence[Claimed],
                               now: datetime) -> None:
    """A relayed answer did not arrive: it goes again to whoever holds the case now (a
    reachable assignee, or the colleague the case is passed on to)."""
    from bot.services import relay  # it imports this module

    for row in rows:
        case = await db.get(Case, row.case_id) if row.case_id else None
        if case is None or case.status not in cases.OPEN:
            continue
        holder = case.assignee_id
        if holder is None or holder == row.person_id \
                or not await case_actions.reachable(db, holder):
            holder = await pass_on(db, case, row.person_id, now,
                                   key=f"case:{case.id}:pass:{row.id}")
        delivery = await db.get(Delivery, row.id)
        if holder is not None and delivery is not None:
            await relay.resend(db, case, delivery.dedupe_key, holder, now)


async def on_escalate_unreachable(db: AsyncSession, rows: Sequence[Claimed],
                                  now: datetime) -> None:
    """A reminder failed: a colleague takes the tip. An escalation failed for everyone of
    its tier: the next tier up is alerted at once."""
    for row in rows:
        case = await db.get(Case, row.case_id) if row.case_id else None
        if case is None or case.acknowledged_at is not None \
                or case.status not in ("new", "routed"):
            continue
        if row.person_id is not None and row.person_id == case.assignee_id:
            await pass_on(db, case, row.person_id, now, key=f"case:{case.id}:pass:{row.id}",
                          escalate=False)  # the escalation is already under way
            continue
        delivery = await db.get(Delivery, row.id)
        m = _ESCALATION_KEY.match(delivery.dedupe_key) if delivery else None
        if m is None or int(m.group(1)) != case.escalation_level \
                or await _tier_reached(db, case.id, int(m.group(1))):
            continue
        await case_actions.escalate(db, case, now, reason="unreachable", remind=False)


async def on_digest_unreachable(db: AsyncSession, rows: Sequence[Claimed],
                                now: datetime) -> None:
    """A leader's digest failed: every open case it listed that they held, or that nobody
    held, goes to a reachable colleague (other leaders' digests cover the rest)."""
    for row in rows:
        reply = Reply.from_dict(row.payload)
        for choice in reply.flat_choices():
            m = _CASE_BUTTON.match(choice.payload)
            case = await db.get(Case, int(m.group(1))) if m else None
            if case is None or case.status not in cases.OPEN \
                    or case.assignee_id not in (None, row.person_id):
                continue
            await pass_on(db, case, row.person_id, now, key=f"case:{case.id}:pass:{row.id}",
                          escalate=False)


async def _tier_reached(db: AsyncSession, case_id: int, level: int) -> bool:
    """Whether some escalation notice of this tier is sent or still on its way."""
    found = (await db.execute(select(Delivery.id).where(
        Delivery.case_id == case_id, Delivery.kind == "case_escalate",
        Delivery.dedupe_key.like(f"case:{case_id}:esc:{level}:%"),
        Delivery.state.in_(("pending", "claimed", "sent"))).limit(1))).first()
    return found is not None
