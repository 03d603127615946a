"""An occurrence becomes delivery rows: texts rendered once per commune and language, then
the whole audience written by ONE ``INSERT … SELECT … ON CONFLICT DO NOTHING``.

The dedupe key is ``b<broadcast>:o<occurrence>:p<person>`` (``:g<group>`` for a group
chat), unique in ``deliveries``, so running the fan-out again — after a crash, from a
second scheduler — writes nothing new and nobody gets the notice twice. No Python object
per recipient is made: 100,000 rows are one statement (docs/broadcasts.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from broadcasts import audience, schedule
from broadcasts.message import Notice, context, payload
from broadcasts.outbox import PRIORITY_BROADCAST, lane
from storage import dialect
from storage.tables import Broadcast, BroadcastOccurrence, BroadcastVariant, Delivery

PRIORITY_URGENT_BROADCAST = 4  # after case notifications (2, 3), before routine notices
KIND = "broadcast"
ANALYZE_FROM = 1000  # recipients from which the fan-out refreshes the table's statistics
_COLUMNS = ["dedupe_key", "kind", "channel", "chat_id", "is_group", "person_id", "broadcast_id",
            "occurrence_id", "payload", "priority", "state", "attempts", "next_attempt_at",
            "created_at", "lane"]


def notice_of(bc: Broadcast) -> Notice:
    return Notice(bc.template, bc.body_vi, bc.body_en, str(bc.params.get("note", "")),
                  bc.urgent, bc.photo_sha or "", bc.expires_at)


def send_at(bc: Broadcast, now: datetime, config: Config) -> datetime:
    """Now, or the end of the quiet hours for a routine notice."""
    if bc.urgent:
        return now
    b = config.broadcasts
    return schedule.quiet_until(now, b.quiet_start, b.quiet_end, config.bot.tz) or now


async def write_variants(db: AsyncSession, bc: Broadcast, occ: BroadcastOccurrence,
                         scope: audience.Scope, now: datetime, config: Config) -> int:
    """Render the notice for every commune key and language (a template error raises)."""
    notice = notice_of(bc)
    rows = [{"occurrence_id": occ.id, "area_id": key, "language": lang,
             "payload": payload(notice, lang, context(scope, key, now, config.bot.tz, notice))}
            for key in scope.keys for lang in ("vi", "en")]
    await db.execute(dialect.insert(db, BroadcastVariant).on_conflict_do_nothing(), rows)
    return len(rows)


def _rows(src: Any, bc: Broadcast, occ: BroadcastOccurrence, at: datetime, *,
          group: bool, postgres: bool) -> Any:
    v = BroadcastVariant
    at_type = Delivery.__table__.c.next_attempt_at.type
    prefix = f"b{bc.id}:o{occ.id}:{'g' if group else 'p'}"
    who = src.c.group_id if group else src.c.person_id
    priority = PRIORITY_URGENT_BROADCAST if bc.urgent else PRIORITY_BROADCAST
    return (select(literal(prefix, String) + cast(who, String), literal(KIND, String),
                   src.c.channel, src.c.chat_id, literal(group, Boolean),
                   null() if group else src.c.person_id, literal(bc.id, Integer),
                   literal(occ.id, Integer), v.payload, literal(priority, Integer),
                   literal("pending", String), literal(0, Integer), literal(at, at_type),
                   literal(at, at_type), lane(src.c.chat_id, postgres))
            .select_from(src).join(v, and_(v.occurrence_id == occ.id, v.area_id == src.c.area_key,
                          v.language == src.c.language)))


async def fan_out(db: AsyncSession, bc: Broadcast, occ: BroadcastOccurrence, now: datetime,
                  config: Config) -> int:
    """Write the occurrence's delivery rows; returns how many recipients it has."""
    aud = audience.Audience.from_dict(bc.audience)
    scope = await audience.expand(db, aud)
    if dialect.is_postgres(db):  # sorts and hashes of 100,000 rows stay in memory
        await db.execute(text("SET LOCAL work_mem = '64MB'"))
    await write_variants(db, bc, occ, scope, now, config)
    at = send_at(bc, now, config)
    # The recipients are computed first (a materialised CTE), so each one's text is then a
    # lookup on the variants' unique index rather than a filter over people × variants.
    ppl = audience.people(aud, scope, bc.topic, bc.urgent).cte("ppl").prefix_with(
        "MATERIALIZED", dialect="postgresql")
    pg = dialect.is_postgres(db)
    parts = [_rows(ppl, bc, occ, at, group=False, postgres=pg)]
    if aud.groups:
        grp = audience.groups(scope, config.bot.language).cte("grp")
        parts.append(_rows(grp, bc, occ, at, group=True, postgres=pg))
    every = union_all(*parts).subquery("every")
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of a join.
    source = select(every).where(literal(True))
    stmt = dialect.insert(db, Delivery).from_select(_COLUMNS, source)
    await db.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    n = (await db.execute(select(func.count()).select_from(Delivery).where(
        Delivery.occurrence_id == occ.id))).scalar_one()
    if n >= ANALYZE_FROM:
        # Thousands of new open rows change the table's make-up: fresh statistics keep the
        # dispatcher's claim an index walk (see broadcasts/dispatcher.py). SQLite samples.
        if not dialect.is_postgres(db):
            await db.execute(text("PRAGMA analysis_limit = 1000"))
        await db.execute(text("ANALYZE deliveries"))
    occ.state, occ.started_at, occ.recipients = "sending", now, int(n)
    return int(n)

