"""SQLite for the async engine without a thread hop per call.

aiosqlite runs every call (open a cursor, execute, fetch, close) in its own thread and
hands the result back through the event loop: four round trips a statement, which cost
~0.4 ms of CPU each under load, against ~0.1 ms for the statement itself. On a local
file in WAL mode a statement takes microseconds, so here the sqlite3 calls run on the
event loop's thread and the "async" methods return at once.

SQLAlchemy's ``async_creator`` takes any object shaped like an aiosqlite connection; this
is that shape, limited to what SQLAlchemy's aiosqlite dialect calls. The price: a
statement that waits or runs long (another process holding the write lock, a fan-out of
a large broadcast) holds up the loop for that long. The bot is the only long-lived
writer of its SQLite file (a second bot process is refused), so waits are short CLI
transactions; the fan-out times are in docs/benchmarks.md. Deployments big enough for
that to matter belong on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any


class _Cursor:
    """The aiosqlite cursor surface, done synchronously."""

    __slots__ = ("_c",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._c = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._c.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._c.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Iterable[Any]) -> _Cursor:
        self._c.executemany(sql, seq)
        return self

    async def fetchall(self) -> list[Any]:
        return self._c.fetchall()

    async def fetchone(self) -> Any:
        return self._c.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._c.fetchmany(size if size is not None else self._c.arraysize)

    async def close(self) -> None:
        self._c.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._c.description

    @property
    def rowcount(self) -> int:
        return self._c.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._c.lastrowid

    @property
    def arraysize(self) -> int:
        return self._c.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._c.arraysize = value


class _Now:
    """Stands in for aiosqlite's request queue: runs the call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(exc)


class InlineConnection:
    """An aiosqlite-shaped connection whose calls complete without leaving the loop."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Now()

    @classmethod
    async def open(cls, path: str) -> InlineConnection:
        # check_same_thread off: a pool may hand the connection to another loop's thread
        # in tests; SQLAlchemy's pool never shares one connection between two at once.
        return cls(sqlite3.connect(path, check_same_thread=False))

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        return _Cursor(self._conn.execute(sql, parameters))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()
