"""The outbox: every notification or broadcast message is a delivery row first.

Rows are written in the same transaction as the change that caused them (a routed tip,
a relayed question, a broadcast occurrence), so nothing is lost if the process dies
before sending. ``dedupe_key`` is unique: writing the same message twice is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from storage import dialect
from storage.tables import Delivery

PRIORITY_SOS = 0
PRIORITY_CASE = 2
PRIORITY_STATUS = 3
PRIORITY_BROADCAST = 6
LANES = 1024  # chats are hashed into this many lanes; each live worker claims its own


def lane(chat_id: Any, postgres: bool) -> Any:
    """The lane of a chat as SQL (``chat_id`` a column or a value): a hash of the chat id
    on PostgreSQL, where several workers split the lanes (bot.workers); 0 on SQLite, which
    has one worker. Every row of one chat gets the same lane, whichever path wrote it."""
    if not postgres:
        return literal(0)
    if not hasattr(chat_id, "type"):
        chat_id = literal(str(chat_id), String)
    return func.hashtext(chat_id).op("&")(LANES - 1)


async def enqueue(db: AsyncSession, *, dedupe_key: str, kind: str, channel: str, chat_id: str,
                  reply: Reply, at: datetime, is_group: bool = False,
                  person_id: int | None = None, case_id: int | None = None,
                  broadcast_id: int | None = None, occurrence_id: int | None = None,
                  priority: int = 5, photo_sha: str = "", document_sha: str = "") -> bool:
    """Record one message to send; False when that ``dedupe_key`` was already recorded."""
    payload = reply.to_dict()
    if photo_sha:
        payload["photo_sha"] = photo_sha
    if document_sha:
        payload["document_sha"] = document_sha
    stmt = dialect.insert(db, Delivery).values(
        dedupe_key=dedupe_key[:120], kind=kind, channel=channel, chat_id=chat_id,
        is_group=is_group, person_id=person_id, case_id=case_id, broadcast_id=broadcast_id,
        occurrence_id=occurrence_id, payload=payload, priority=priority, state="pending",
        attempts=0, next_attempt_at=at, created_at=at,
        lane=lane(chat_id, dialect.is_postgres(db)))
    result = await db.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return dialect.rowcount(result) > 0


async def cancel(db: AsyncSession, *, case_id: int | None = None, kind: str | None = None,
                 broadcast_id: int | None = None) -> int:
    """Cancel pending rows (a re-sent SOS once acknowledged, a cancelled broadcast)."""
    stmt = update(Delivery).where(Delivery.state == "pending")
    if case_id is not None:
        stmt = stmt.where(Delivery.case_id == case_id)
    if kind is not None:
        stmt = stmt.where(Delivery.kind == kind)
    if broadcast_id is not None:
        stmt = stmt.where(Delivery.broadcast_id == broadcast_id)
    return dialect.rowcount(await db.execute(stmt.values(state="cancelled")))


async def counts(db: AsyncSession, **where: Any) -> dict[str, int]:
    """Rows per state, optionally filtered by column values (reports, metrics, tests)."""
    stmt = select(Delivery.state, func.count()).group_by(Delivery.state)
    for col, value in where.items():
        stmt = stmt.where(getattr(Delivery, col) == value)
    return {state: int(n) for state, n in (await db.execute(stmt)).all()}
