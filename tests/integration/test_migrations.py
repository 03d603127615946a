"""Alembic migrations on SQLite and PostgreSQL: to head, idempotent, matching the models."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import Database, SchemaOutdated, alembic_config, make_engine
from storage.tables import Base


@pytest.fixture
async def empty(db_url: str) -> AsyncIterator[Database]:
    db = Database(make_engine(db_url))
    try:
        yield db
    finally:
        await db.close()


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_brings_an_empty_database_to_head(empty: Database) -> None:
    assert await _tables(empty) == set()
    current, heads = await empty.schema_state()
    assert current == set() and heads == _heads() and heads

    await empty.upgrade()

    current, heads = await empty.schema_state()
    assert current == heads == _heads()
    assert await _tables(empty) == set(Base.metadata.tables) | {"alembic_version"}
    await empty.check_schema()  # does not raise


async def test_second_upgrade_is_a_no_op(empty: Database) -> None:
    await empty.upgrade()
    before = await empty.schema_state()
    tables = await _tables(empty)

    await empty.upgrade()

    assert await empty.schema_state() == before
    assert await _tables(empty) == tables


async def test_check_schema_refuses_an_empty_database(empty: Database) -> None:
    with pytest.raises(SchemaOutdated) as info:
        await empty.check_schema()
    message = str(info.value)
    assert "binhyen db upgrade" in message
    assert "empty" in message
    for head in _heads():
        assert head in message


async def test_check_schema_refuses_an_older_revision(empty: Database) -> None:
    """A database stamped at a revision this code does not know is not at head either."""
    await empty.upgrade()
    async with empty.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000_older'")
    with pytest.raises(SchemaOutdated, match="binhyen db upgrade"):
        await empty.check_schema()


def _differences(conn: Connection) -> list[object]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(empty: Database) -> None:
    await empty.upgrade()
    async with empty.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_schema_comparison_notices_a_difference(empty: Database) -> None:
    """The comparison above is not vacuous: a dropped index shows up as a difference."""
    await empty.upgrade()
    async with empty.engine.begin() as conn:
        await conn.exec_driver_sql("DROP INDEX ix_areas_key")
    async with empty.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert [d[0] for d in differences if isinstance(d, tuple)] == ["add_index"]
