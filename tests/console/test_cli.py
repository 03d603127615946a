"""``binhyen console link`` and ``binhyen apikey create|list|revoke`` on a real config file
and database (in-process: the commands are the same functions the script runs)."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import Config, load_config
from bot.services import api_keys
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import ApiKey, ConsoleLink


async def _people(config: Config) -> tuple[int, int]:
    db = Database(make_engine(config.database_url))
    try:
        async with db.uow() as s:
            commune = await areas.by_code(s, "20242")
            assert commune is not None
            staff = await people.add_person(s, channel="web", user_id="w1", chat_id="w1",
                                            language="vi", display_name="Nguyễn Văn An")
            await people.grant(s, staff.id, "officer", commune.id)
            resident = await people.add_person(s, channel="web", user_id="w2", chat_id="w2",
                                               language="vi")
            return staff.id, resident.id
    finally:
        await db.close()


async def _rows(config: Config, table: type) -> list:
    from sqlalchemy import select
    db = Database(make_engine(config.database_url))
    try:
        async with db.read() as s:
            return list((await s.execute(select(table))).scalars())
    finally:
        await db.close()


async def _check(config: Config, plain: str) -> bool:
    db = Database(make_engine(config.database_url))
    try:
        async with db.uow() as s:
            return await api_keys.authenticate(s, plain, datetime.now(UTC)) is not None
    finally:
        await db.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("BINHYEN_"):
            monkeypatch.delenv(name)
    assert main(["init", "--province", "48"]) == 0
    return load_config(tmp_path / "config.toml")


def test_console_link_prints_a_one_time_link_for_staff_only(workdir, capsys) -> None:
    staff, resident = asyncio.run(_people(workdir))
    capsys.readouterr()
    assert main(["console", "link", str(staff)]) == 0
    out = capsys.readouterr().out
    found = re.search(r"http://127\.0\.0\.1:8080/console/login\?token=(\S+)", out)
    assert found and "Nguyễn Văn An" in out and "10 minutes" in out
    [link] = asyncio.run(_rows(workdir, ConsoleLink))
    assert link.person_id == staff and link.token_hash != found.group(1)
    assert main(["console", "link", str(resident)]) == 1
    assert "no staff role" in capsys.readouterr().err
    assert main(["console", "link", "999"]) == 1


def test_api_keys_are_created_listed_and_revoked(workdir, capsys) -> None:
    capsys.readouterr()
    assert main(["apikey", "create", "Bảng điều khiển tỉnh"]) == 0
    out = capsys.readouterr().out
    plain = out.strip().splitlines()[-1]
    assert plain.startswith("byk_") and "shown only now" in out
    [key] = asyncio.run(_rows(workdir, ApiKey))
    assert key.key_hash != plain and plain not in str(vars(key)) and plain[4:12] == key.prefix
    assert asyncio.run(_check(workdir, plain))
    assert main(["apikey", "list"]) == 0
    listed = capsys.readouterr().out
    assert key.prefix in listed and "active" in listed and "never" not in listed
    assert main(["apikey", "revoke", key.prefix]) == 0
    assert "revoked API key" in capsys.readouterr().out
    assert not asyncio.run(_check(workdir, plain))
    assert main(["apikey", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["apikey", "revoke", "nope"]) == 1
    assert main(["apikey", "create", " "]) == 1
