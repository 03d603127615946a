"""Conversation state rows and the processed-update ledger. Never commits."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.tables import Conversation, ProcessedUpdate


def _mark(insert: Any) -> Any:
    return insert(ProcessedUpdate).values(
        channel=bindparam("channel"), update_id=bindparam("update_id"), at=bindparam("at"),
    ).on_conflict_do_nothing()


# Built once per backend: every update runs one (see _LOAD below).
_MARK_PG, _MARK_SQLITE = _mark(pg_insert), _mark(sqlite_insert)


async def mark_processed(session: AsyncSession, channel: str, update_id: str,
                         at: datetime) -> bool:
    """Record an update id; False when it was seen before (a retry or a duplicate)."""
    stmt = _MARK_PG if dialect.is_postgres(session) else _MARK_SQLITE
    params = {"channel": channel, "update_id": update_id, "at": at}
    # On the connection: the ORM would take a dict of values as a bulk INSERT.
    conn = await session.connection()
    return dialect.rowcount(await conn.execute(stmt, params)) > 0


async def forget_processed_before(session: AsyncSession, before: datetime) -> int:
    return dialect.rowcount(await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.at < before)))


async def lock_key(session: AsyncSession, key: tuple[str, str, str]) -> None:
    """Serialise updates of one conversation across processes (PostgreSQL only)."""
    if dialect.is_postgres(session):
        h = zlib.crc32("\x1f".join(key).encode())
        await session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"),
                              {"a": 7_305, "b": h - 2**31})


@dataclass(frozen=True)
class State:
    """A conversation's stored state, read as plain values (no ORM object to track)."""

    id: int
    flow: str | None
    step: str | None
    data: dict[str, Any]
    version: int
    updated_at: datetime


# Built once and run on the connection, not through the ORM: every update loads and saves
# its state, and building, keying and tracking ORM statements cost more CPU than SQLite
# takes to run them.
_T = cast(Table, Conversation.__table__)
_C = _T.c
_LOAD = select(_C.id, _C.flow, _C.step, _C.data, _C.version, _C.updated_at).where(
    _C.channel == bindparam("channel"), _C.chat_id == bindparam("chat_id"),
    _C.user_id == bindparam("user_id"))
_INSERT = insert(_T).values(
    channel=bindparam("p_channel"), chat_id=bindparam("p_chat_id"),
    user_id=bindparam("p_user_id"), flow=bindparam("p_flow"), step=bindparam("p_step"),
    data=bindparam("p_data"), version=bindparam("p_version"),
    updated_at=bindparam("p_updated_at"))
_UPDATE = update(_T).where(_C.id == bindparam("p_id")).values(
    flow=bindparam("p_flow"), step=bindparam("p_step"), data=bindparam("p_data"),
    version=bindparam("p_version"), updated_at=bindparam("p_updated_at"))
_DELETE = delete(_T).where(_C.id == bindparam("p_id"))


async def load(session: AsyncSession, key: tuple[str, str, str]) -> State | None:
    channel, chat_id, user_id = key
    conn = await session.connection()
    row = (await conn.execute(_LOAD, {"channel": channel, "chat_id": chat_id,
                                      "user_id": user_id})).first()
    return State(*row) if row is not None else None


async def save(session: AsyncSession, key: tuple[str, str, str], state: State | None, *,
               flow: str | None, step: str | None, data: dict[str, Any],
               at: datetime) -> None:
    """Write the new state over ``state`` (as loaded in this transaction), or insert it."""
    values = {"p_flow": flow, "p_step": step, "p_data": data, "p_updated_at": at,
              "p_version": (state.version if state else 0) + 1}
    conn = await session.connection()
    if state is None:
        channel, chat_id, user_id = key
        await conn.execute(_INSERT, {**values, "p_channel": channel, "p_chat_id": chat_id,
                                     "p_user_id": user_id})
    else:
        await conn.execute(_UPDATE, {**values, "p_id": state.id})


async def drop(session: AsyncSession, state: State) -> None:
    conn = await session.connection()
    await conn.execute(_DELETE, {"p_id": state.id})


async def delete_for_user(session: AsyncSession, channel: str, user_id: str) -> None:
    await session.execute(delete(Conversation).where(Conversation.channel == channel,
                                                     Conversation.user_id == user_id))
