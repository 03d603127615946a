"""Engine, sessions, the unit of work, and the schema version check.

No engine exists at import time: :class:`Database` is built from the config in
``bot.app`` and passed down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.sqlite_inline import InlineConnection

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(RuntimeError):
    """The database is not at the migration head this code expects."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the web chat read while the dispatcher writes; foreign keys are off by
    # default in SQLite and our ON DELETE rules depend on them.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, so an erased person's data does not stay
    # readable in free pages of the file (personal-data erasure, see docs/privacy.md).
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` (SQLite or PostgreSQL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path and path != ":memory:":
            engine = create_async_engine(url, echo=echo,
                                         async_creator=lambda: InlineConnection.open(path))
        else:
            engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                               pool_pre_ping=True)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(conn: Connection, revision: str) -> None:
    command.upgrade(alembic_config(conn), revision)


def _current(conn: Connection) -> tuple[set[str], set[str]]:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return set(MigrationContext.configure(conn).get_current_heads()), heads


class _WriteQueue:
    """SQLite has one writer at a time. Without a queue, concurrent units of work meet at
    the file lock, where SQLite's busy handler polls with sleeps of up to 100 ms — under a
    few dozen concurrent updates that made waits of seconds and "database is locked"
    errors. Here they wait in line (FIFO) in the process instead. Reentrant per task, so
    a unit of work opened inside another one behaves as it did before."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


class Database:
    """The engine plus a session factory; ``uow()`` is the only way to write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = _WriteQueue() if engine.dialect.name == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises."""
        if self._writes is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writes.turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (rolled back at the end)."""
        async with self.sessions() as session:
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)

    async def schema_state(self) -> tuple[set[str], set[str]]:
        """(current revisions, expected heads)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current)

    async def check_schema(self) -> None:
        """Raise :class:`SchemaOutdated` unless the database is at head."""
        current, heads = await self.schema_state()
        if current != heads:
            have = ", ".join(sorted(current)) or "empty"
            raise SchemaOutdated(
                f"database schema is at {have}, this version needs {', '.join(sorted(heads))}: "
                "run `binhyen db upgrade` first")

    async def close(self) -> None:
        await self.engine.dispose()
