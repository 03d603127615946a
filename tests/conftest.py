"""Shared fixtures: real SQLite and PostgreSQL databases, configs, a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, build_config
from storage.crypto import generate_key
from storage.db import Database, make_engine
from tests.support.clock import FakeClock
from tests.support.databases import fresh_pg_database, require_pg

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind (PostgreSQL skips with a reason when unavailable)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    require_pg()
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Build a valid config in ``tmp_path``; keyword dicts override sections."""
    key = generate_key()

    def factory(db_url: str = "", **sections: dict[str, Any]) -> Config:
        data: dict[str, Any] = {"database": {"url": db_url},
                                "bot": {"data_dir": str(tmp_path / "data")},
                                "security": {"data_key": key},
                                "web": {"port": 0}}
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        return build_config(data, environ={}, source=str(tmp_path / "config.toml"))

    return factory


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """A migrated database of each kind."""
    db = Database(make_engine(db_url))
    await db.upgrade()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
