"""Cross-process push for the web chat on PostgreSQL (LISTEN/NOTIFY).

A message for a visitor may be produced by any process (a worker delivering an officer's
question), while the visitor's WebSocket is open on one web process. The producer stores
the message and NOTIFYs its id in the same transaction; every web process LISTENs and
pushes it to the sockets it holds. With SQLite there is one process and no bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
CHANNEL = "binhyen_webchat"

Deliver = Callable[[str, int], Awaitable[None]]


async def notify(db: AsyncSession, chat_id: str, message_id: int) -> None:
    await db.execute(text("SELECT pg_notify(:c, :p)"),
                     {"c": CHANNEL, "p": f"{message_id}:{chat_id}"})


class Listener:
    def __init__(self, url: str, deliver: Deliver) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.deliver = deliver
        self._conn: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        import asyncpg

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        message_id, _, chat_id = payload.partition(":")
        if not message_id.isdigit():
            return
        task = asyncio.get_running_loop().create_task(self._push(chat_id, int(message_id)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self, chat_id: str, message_id: int) -> None:
        try:
            await self.deliver(chat_id, message_id)
        except Exception:
            log.exception("web chat push failed")

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
