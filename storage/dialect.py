"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgres(db: AsyncSession) -> bool:
    bind = db.get_bind()
    return bind.dialect.name == "postgresql"


def insert(db: AsyncSession, table: Any) -> Any:
    """An INSERT with ``on_conflict_do_nothing``/``do_update`` for the session's backend."""
    return pg_insert(table) if is_postgres(db) else sqlite_insert(table)


def rowcount(result: Result[Any]) -> int:
    """Rows touched by an INSERT/UPDATE/DELETE."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
