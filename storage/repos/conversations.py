"""Conversation state rows and the processed-update ledger. Never commits."""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.tables import Conversation, ProcessedUpdate


async def mark_processed(session: AsyncSession, channel: str, update_id: str,
                         at: datetime) -> bool:
    """Record an update id; False when it was seen before (a retry or a duplicate)."""
    ins = dialect.insert(session, ProcessedUpdate).values(channel=channel, update_id=update_id,
                                                          at=at)
    return dialect.rowcount(await session.execute(ins.on_conflict_do_nothing())) > 0


async def forget_processed_before(session: AsyncSession, before: datetime) -> int:
    return dialect.rowcount(await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.at < before)))


async def lock_key(session: AsyncSession, key: tuple[str, str, str]) -> None:
    """Serialise updates of one conversation across processes (PostgreSQL only)."""
    if dialect.is_postgres(session):
        h = zlib.crc32("\x1f".join(key).encode())
        await session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"),
                              {"a": 7_305, "b": h - 2**31})


async def load(session: AsyncSession, key: tuple[str, str, str]) -> Conversation | None:
    channel, chat_id, user_id = key
    stmt = select(Conversation).where(Conversation.channel == channel,
                                      Conversation.chat_id == chat_id,
                                      Conversation.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_for_user(session: AsyncSession, channel: str, user_id: str) -> None:
    await session.execute(delete(Conversation).where(Conversation.channel == channel,
                                                     Conversation.user_id == user_id))
