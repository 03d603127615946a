"""Helpers shared by CLI commands: an open database and the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Config
from storage.db import Database, SchemaOutdated, make_engine


@asynccontextmanager
async def database(config: Config, *, check: bool = True) -> AsyncIterator[Database]:
    """The configured database; refuses an outdated schema unless ``check`` is False."""
    from bot.cli.main import CliError

    db = Database(make_engine(config.database_url))
    try:
        if check:
            try:
                await db.check_schema()
            except SchemaOutdated as exc:
                raise CliError(str(exc)) from None
        yield db
    finally:
        await db.close()
