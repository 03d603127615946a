"""Exactly one process does a job at a time (the scheduler, Telegram polling).

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own;
if the process dies, PostgreSQL drops the connection and the lock, and a follower polling
every ``retry`` seconds takes over. On SQLite there is only ever one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

LOCK_SCHEDULER = 730_501
LOCK_TELEGRAM_POLLING = 730_502
LOCK_ZALO_POLLING = 730_503


class Leadership:
    def __init__(self, engine: AsyncEngine, key: int, name: str,
                 on_gain: Callable[[], Awaitable[None]], on_loss: Callable[[], Awaitable[None]],
                 retry: float = 5.0) -> None:
        self.engine = engine
        self.key = key
        self.name = name
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.retry = retry
        self.leader = False
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"leadership:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _run(self) -> None:
        if self.engine.dialect.name != "postgresql":
            await self._become_leader()
            return
        while True:
            try:
                if not self.leader:
                    await self._try_acquire()
                else:
                    assert self._conn is not None
                    await self._conn.execute(text("SELECT 1"))  # still holding it?
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: lost the database connection (%s); stepping down",
                            self.name, type(exc).__name__)
                await self._step_down()
            await asyncio.sleep(self.retry)

    async def _try_acquire(self) -> None:
        conn = await self.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                  {"k": self.key})).scalar_one()
        await conn.commit()
        if got:
            self._conn = conn
            await self._become_leader()
        else:
            await conn.close()

    async def _become_leader(self) -> None:
        self.leader = True
        log.info("%s: this process is now the leader", self.name)
        await self.on_gain()

    async def _step_down(self) -> None:
        if self.leader:
            self.leader = False
            try:
                await self.on_loss()
            except Exception:
                log.exception("%s: error while stepping down", self.name)
        if self._conn is not None:
            # Closing would return the connection to the pool still holding the
            # session-level lock; unlock, and drop the connection for good.
            with contextlib.suppress(Exception):
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            with contextlib.suppress(Exception):
                await self._conn.invalidate()
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
