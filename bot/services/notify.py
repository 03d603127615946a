"""Notifications to people and relayed chats, always as delivery rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from broadcasts import outbox
from storage.tables import Identity, Person


async def language_of(db: AsyncSession, person_id: int) -> str:
    person = await db.get(Person, person_id)
    return person.language if person else "vi"


async def to_person(db: AsyncSession, person_id: int, reply: Reply, *, kind: str, key: str,
                    at: datetime, case_id: int | None = None, priority: int = 5,
                    photo_sha: str = "", document_sha: str = "") -> int:
    """Queue ``reply`` to every reachable account of the person; returns rows written."""
    rows = (await db.execute(select(Identity).where(
        Identity.person_id == person_id, Identity.reachable.is_(True)).order_by(Identity.id)
    )).scalars().all()
    written = 0
    for ident in rows:
        written += await outbox.enqueue(
            db, dedupe_key=f"{key}:{ident.channel}:{ident.chat_id}", kind=kind,
            channel=ident.channel, chat_id=ident.chat_id, reply=reply, at=at,
            person_id=person_id, case_id=case_id, priority=priority, photo_sha=photo_sha,
            document_sha=document_sha)
    return written


async def to_chat(db: AsyncSession, channel: str, chat_id: str, reply: Reply, *, kind: str,
                  key: str, at: datetime, person_id: int | None = None,
                  case_id: int | None = None, is_group: bool = False, priority: int = 5,
                  photo_sha: str = "") -> bool:
    return await outbox.enqueue(db, dedupe_key=f"{key}:{channel}:{chat_id}", kind=kind,
                                channel=channel, chat_id=chat_id, reply=reply, at=at,
                                person_id=person_id, case_id=case_id, is_group=is_group,
                                priority=priority, photo_sha=photo_sha)
