"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL cases run against the server at BINHYEN_TEST_PG (default: the local server on
127.0.0.1:5432, database ``test``, trust auth) and skip with the reason when it cannot be
reached. CI sets BINHYEN_REQUIRE_PG=1 so a missing server fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import lru_cache

import pytest

PG_ADMIN = os.environ.get("BINHYEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@lru_cache(maxsize=1)
def pg_unavailable_reason() -> str:
    """Empty when PostgreSQL is reachable, else why not."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed"

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
        await conn.close()

    try:
        # In a thread: the caller may already be inside an event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except Exception as exc:  # any failure means: no server for these tests
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc.__class__.__name__}: {exc}"
    return ""


def require_pg() -> None:
    reason = pg_unavailable_reason()
    if reason:
        if os.environ.get("BINHYEN_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it afterwards."""
    import asyncpg

    name = f"binhyen_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
