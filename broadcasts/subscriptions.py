"""Residents' choice of notice topics and their opt-out.

No subscription rows: every topic. Once a person picks, a marker row (topic ``*``) says
so and the other rows are the topics they keep. ``Person.broadcasts_opt_out`` stops every
routine notice; urgent ones still come (see broadcasts.audience).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from broadcasts import templates
from broadcasts.audience import CHOSEN
from storage.tables import Person, Subscription


async def chosen(db: AsyncSession, person_id: int) -> set[str]:
    """The topics the person receives."""
    rows = set((await db.execute(select(Subscription.topic).where(
        Subscription.person_id == person_id))).scalars())
    return rows - {CHOSEN} if CHOSEN in rows else set(templates.topics())


async def toggle(db: AsyncSession, person_id: int, topic: str) -> set[str]:
    """Switch one topic on or off; returns the topics now received."""
    now_on = await chosen(db, person_id) ^ {topic}
    keep = [t for t in templates.topics() if t in now_on]
    await db.execute(delete(Subscription).where(Subscription.person_id == person_id))
    await db.execute(insert(Subscription), [{"person_id": person_id, "topic": t}
                                            for t in (CHOSEN, *keep)])
    return set(keep)


def set_opt_out(db: AsyncSession, person: Person, value: bool, now: datetime) -> bool:
    """Stop (or restart) routine notices; False when nothing changed."""
    if person.broadcasts_opt_out == value:
        return False
    person.broadcasts_opt_out = value
    audit.record(db, "broadcast.opt_out" if value else "broadcast.opt_in", at=now,
                 actor_id=person.id, object_type="person", object_id=person.id)
    return True
