"""Shared steps for the personal-data-rights tests: reading the copies a person gets, and
looking for a person's traces in every column of every table (and in the SQLite file's
raw bytes).

    hits = await traces(db, needles)          # [] when nothing is left
    assert raw_sqlite_hits(path, needles) == []
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import text

from bot.logs import conversation_tag
from bot.services.erasure import phone_forms
from storage.db import Database

SECTIONS = ("profile", "accounts", "roles", "consents", "subscriptions", "reports", "places",
            "declarations", "requests")


# --------------------------------------------------------------------------- needles

def person_needles(*, names: Iterable[str] = (), phone: str | None = None,
                   usernames: Iterable[str] = (),
                   accounts: Iterable[tuple[str, str, str]] = (),
                   keyed: Callable[[str], str] | None = None) -> list[str]:
    """Everything that would identify the person: names, every form of the phone number,
    usernames, platform ids (channel, chat id, user id) and the conversation tags the
    logs use for them."""
    out = {n for n in names if n}
    if phone:
        out.update(phone_forms(phone))
    out.update(u for u in usernames if u)
    for channel, chat_id, user_id in accounts:
        out.update((chat_id, user_id))
        if keyed is not None:  # the deployment's keyed hash: the tag its logs carry
            out.add(conversation_tag(channel, chat_id, user_id, keyed=keyed))
    return sorted(out)


def _forms(needle: str) -> set[str]:
    """The needle as stored: plain, JSON-escaped (non-ASCII as \\uXXXX), lower-case."""
    return {needle, json.dumps(needle)[1:-1], needle.lower()}


def _matches(value: Any, needle: str) -> bool:
    if value is None:
        return False
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return any(f.encode() in raw for f in _forms(needle))
    s = str(value)
    return any(f in s or f in s.lower() for f in _forms(needle))


# --------------------------------------------------------------------------- database scan

async def columns(db: Database) -> list[tuple[str, str]]:
    """(table, column) of every table in the database, the migration table included."""
    async with db.engine.connect() as conn:
        if db.is_postgres:
            rows = (await conn.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"))).all()
            return [(t, c) for t, c in rows]
        tables = (await conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))).scalars()
        out = []
        for table in list(tables):
            for row in (await conn.execute(text(f'PRAGMA table_info("{table}")'))).all():
                out.append((table, row[1]))
        return out


async def traces(db: Database, needles: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """(table, column, needle, value excerpt) for every stored value holding a needle."""
    needles = list(needles)
    hits = []
    cols = await columns(db)
    assert len({t for t, _ in cols}) >= 30, cols  # really every table
    async with db.engine.connect() as conn:
        for table, column in cols:
            if db.is_postgres:
                q = f'SELECT CAST("{column}" AS TEXT) FROM "{table}"'
            else:  # BLOBs come back as bytes, everything else as stored
                q = f'SELECT "{column}" FROM "{table}"'
            for (value,) in (await conn.execute(text(q))).all():
                for n in needles:
                    if _matches(value, n):
                        hits.append((table, column, n, str(value)[:200]))
    return hits


async def checkpoint(db: Database) -> None:
    """Write SQLite's WAL back into the file and truncate it (no-op on PostgreSQL)."""
    if not db.is_postgres:
        async with db.engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def sqlite_path(db_url: str) -> Path | None:
    return Path(db_url.split("///", 1)[1]) if db_url.startswith("sqlite") else None


def raw_sqlite_hits(path: Path, needles: Iterable[str]) -> list[tuple[str, str]]:
    """(file, needle) for needles found in the raw bytes of the database file or its WAL."""
    hits = []
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if not p.exists():
            continue
        raw = p.read_bytes()
        for n in needles:
            if any(f.encode() in raw for f in _forms(n)):
                hits.append((p.name, n))
    return hits


# --------------------------------------------------------------------------- copies

def parse_copy(files: dict[str, bytes]) -> tuple[dict[str, Any], list[list[str]],
                                                  list[list[Any]]]:
    """(JSON document, CSV rows, XLSX rows) of one copy, by file extension."""
    data = next(json.loads(b.decode("utf-8")) for n, b in files.items() if n.endswith(".json"))
    raw_csv = next(b for n, b in files.items() if n.endswith(".csv"))
    assert raw_csv.startswith("\ufeff".encode()), "CSV needs a BOM for spreadsheet programs"
    csv_rows = list(csv.reader(io.StringIO(raw_csv.decode("utf-8-sig"))))
    wb = load_workbook(io.BytesIO(next(b for n, b in files.items() if n.endswith(".xlsx"))))
    ws = wb.active
    assert ws is not None
    xlsx_rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return data, csv_rows, xlsx_rows


def check_copy_formats(data: dict[str, Any], csv_rows: list[list[str]],
                       xlsx_rows: list[list[Any]]) -> None:
    """Every section is present in the JSON; CSV and XLSX hold the same facts."""
    assert list(data) == list(SECTIONS), list(data)
    assert csv_rows[0] == ["section", "item", "field", "value"]
    assert xlsx_rows[0] == csv_rows[0]
    assert len(csv_rows) == len(xlsx_rows) > 10
    for c, x in zip(csv_rows[1:], xlsx_rows[1:], strict=True):
        assert c == ["" if v is None else str(v) for v in x]
    profile = {r[2]: r[3] for r in csv_rows if r[0] == "profile"}
    assert profile["name"] == (data["profile"]["name"] or "")
