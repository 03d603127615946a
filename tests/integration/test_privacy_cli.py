"""``binhyen privacy requests|export|erase|report|breach`` run as real processes against a
database holding one resident (a report, a consent, a subscription, requests)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli.init import render_config
from bot.cli.main import main
from storage.db import Database, make_engine
from storage.tables import (
    AuditEntry,
    Case,
    CaseRelay,
    Consent,
    Counter,
    Identity,
    Person,
    PrivacyRequest,
    Subscription,
)
from tests.flows.privacy_steps import SECTIONS, person_needles, traces

TIMEOUT = 120
NAME = "Đỗ Thị Ngọc Ánh"
DESCRIPTION = "Người lạ hỏi mua đất, chụp ảnh các cổng nhà ở tổ 3"


def site(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'binhyen.db'}"
    (tmp_path / "config.toml").write_text(render_config({"database": {"url": url}}), "utf-8")
    return tmp_path, url


def _env() -> dict[str, str]:
    import os
    return {**{k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")},
            "PYTHONUNBUFFERED": "1"}


def run_many(cwd: Path, commands: Sequence[Sequence[str]], stdin: str = ""
             ) -> list[subprocess.CompletedProcess[str]]:
    """Start the commands side by side (each start-up takes seconds), then collect them."""
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "privacy", *c], cwd=cwd, env=_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    out = []
    for c, p in zip(commands, procs, strict=True):
        o, e = p.communicate(stdin, timeout=TIMEOUT)
        out.append(subprocess.CompletedProcess(list(c), p.returncode, o, e))
    return out


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0 and "Traceback" not in r.stderr, (r.args, r.stdout, r.stderr)
    return r.stdout


def refused(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 1 and "Traceback" not in r.stderr, (r.args, r.stdout, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("binhyen: ")
    return line


async def seed(url: str) -> int:
    db = Database(make_engine(url))
    await db.upgrade()
    now = datetime.now(UTC)
    try:
        async with db.uow() as s:
            p = Person(display_name=NAME, phone="+84935123456", language="vi", consent=True)
            s.add(p)
            await s.flush()
            s.add_all([
                Identity(person_id=p.id, channel="telegram", user_id="6543210987",
                         chat_id="6543210987", username="ngocanh_do"),
                Consent(person_id=p.id, purpose="service", notice_version="2026-01",
                        granted=True, at=now - timedelta(days=40)),
                Subscription(person_id=p.id, topic="*"),
                Subscription(person_id=p.id, topic="fire"),
                PrivacyRequest(ref="DL-26-000001", person_id=p.id, kind="see",
                               status="completed", received_at=now - timedelta(days=30),
                               ack_due_at=now - timedelta(days=28),
                               due_at=now - timedelta(days=15), completed_at=now),
                PrivacyRequest(ref="DL-26-000002", person_id=p.id, kind="correct",
                               status="forwarded", received_at=now - timedelta(days=20),
                               ack_due_at=now - timedelta(days=18),
                               due_at=now - timedelta(days=5))])
            s.add_all([Counter(name="DL-26", value=2), Counter(name="BY-26", value=1)])
            case = Case(ref="BY-26-000001", kind="tip", category_code="NGHIVAN",
                        description=DESCRIPTION, anonymous=True, reporter_id=p.id,
                        status="routed", created_at=now)
            s.add(case)
            await s.flush()
            s.add(CaseRelay(case_id=case.id, person_id=p.id, channel="telegram",
                            chat_id="6543210987"))
            return p.id
    finally:
        await db.close()


async def audit_actions(url: str) -> list[tuple[str, str, dict]]:
    db = Database(make_engine(url))
    try:
        async with db.read() as s:
            rows = (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
            return [(a.action, a.actor_label, a.details) for a in rows]
    finally:
        await db.close()


def test_the_data_protection_officers_commands(tmp_path: Path, capsys) -> None:
    cwd, url = site(tmp_path)
    pid = asyncio.run(seed(url))
    p = str(pid)

    listed, open_, as_json, as_csv, as_xlsx, report, breach = run_many(
        cwd, [["requests"], ["requests", "--open"], ["export", p],
              ["export", p, "--format", "csv"],
              ["export", p, "--format", "xlsx", "--out", "copy.xlsx"], ["report"],
              ["breach", "--summary", "Máy tính của tổ bị mất", "--discovered",
               "2026-11-23T08:00"]])
    lines = ok(listed).splitlines()
    assert [ln.split("\t")[:3] for ln in lines] == [["DL-26-000001", "see", "completed"],
                                                     ["DL-26-000002", "correct", "forwarded"]]
    assert all(f"person {pid}" in ln and "due 20" in ln for ln in lines)
    assert [ln.split("\t")[0] for ln in ok(open_).splitlines()] == ["DL-26-000002"]

    data = json.loads(ok(as_json))
    assert list(data) == list(SECTIONS)
    assert data["profile"]["name"] == NAME and data["profile"]["phone"] == "+84935123456"
    assert data["reports"][0]["description"] == DESCRIPTION
    assert [s["topic"] for s in data["subscriptions"]] == ["fire"]
    rows = list(csv.reader(io.StringIO(ok(as_csv))))
    assert rows[0] == ["section", "item", "field", "value"]
    assert ["profile", "", "name", NAME] in rows
    assert "wrote copy.xlsx" in ok(as_xlsx)
    sheet = load_workbook(cwd / "copy.xlsx").active
    assert sheet is not None
    assert ("profile", None, "name", NAME) in list(sheet.iter_rows(values_only=True))
    # Mistakes get one line (in-process: a process start costs seconds on a busy machine).
    config = ["--config", str(cwd / "config.toml"), "privacy", "export"]
    assert main([*config, p, "--format", "xlsx"]) == 1
    assert main([*config, "999"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["binhyen: XLSX needs --out FILE", "binhyen: no person with id 999"]
    rep = ok(report)
    assert "see\tcompleted\t1" in rep and "correct\tforwarded\t1" in rep
    assert "overdue: 1" in rep
    first, *checklist = ok(breach).splitlines()
    assert json.loads(first) == {"recorded": True,
                                 "notify_authority_by": "2026-11-26T08:00:00+07:00"}
    assert any("72 hours" in ln for ln in checklist)

    # Erasing asks for the word "erase" unless --yes is given.
    (no,) = run_many(cwd, [["erase", p]], stdin="yes\n")
    assert "not erased" in refused(no)
    (done,) = run_many(cwd, [["erase", p, "--yes"]])
    out = ok(done)
    assert out.startswith("DL-26-000003 erased: ") and "relays=1" in out
    assert "reports_unlinked=1" in out and NAME not in out

    async def left() -> list:
        db = Database(make_engine(url))
        try:
            return await traces(db, person_needles(
                names=[NAME], phone="+84935123456", usernames=["ngocanh_do"],
                accounts=[("telegram", "6543210987", "6543210987")]))
        finally:
            await db.close()

    assert asyncio.run(left()) == []
    actions = asyncio.run(audit_actions(url))
    exports = [a for a in actions if a[0] == "privacy.export"]
    assert sorted(d["format"] for _, _, d in exports) == ["csv", "json", "xlsx"]
    assert all(label == "cli" for _, label, _ in exports)
    (b,) = [d for a, _, d in actions if a == "privacy.breach"]
    assert b["summary"] == "Máy tính của tổ bị mất" and b["notify_by"].startswith("2026-11-26")
    assert [a for a, _, _ in actions if a.startswith("privacy.")].count("privacy.delete") == 1
    erased = [d for a, _, d in actions if a == "privacy.erase"]
    assert erased and all(isinstance(v, int) for v in erased[0].values())
