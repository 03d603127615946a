"""``binhyen rules set|list|remove``: real processes for the contract (exit status, one-line
errors, output), the same entry point in-process for the details (a process start costs
seconds on a loaded machine)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import load_config
from bot.services import areas as areas_svc
from bot.services import categories, routing
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import Case, GroupChat

TIMEOUT = 120
HEADER = "area\tcategory\tofficer\tbackup\tgroup"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def binhyen(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def binhyen_many(cwd: Path, commands: Sequence[Sequence[str]]
                 ) -> list[subprocess.CompletedProcess[str]]:
    """Commands that change nothing, side by side (each start-up takes about a second)."""
    procs = [subprocess.Popen([sys.executable, "-m", "bot", *c], cwd=cwd, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    done = []
    for c, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=TIMEOUT)
        done.append(subprocess.CompletedProcess(list(c), p.returncode, out, err))
    return done


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert result.returncode == status, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


async def _seed(folder: Path) -> dict[str, int | str]:
    """Staff of Phường Hải Châu, a street group, an outsider, a resident and a duty group."""
    config = load_config(folder / "config.toml")
    db = Database(make_engine(config.database_url))
    now = datetime.now(UTC)
    try:
        async with db.uow() as s:
            village = await areas_svc.add_village(s, parent_code="20242", name="Tổ dân phố 1",
                                                  type_=None, at=now)
            commune = await areas.by_code(s, "20242")
            other = await areas.by_code(s, "20209")
            assert commune and other
            ids: dict[str, int | str] = {"village": village.code}
            for key, name, role, area in (
                    ("binh", "Trần Văn Bình", "officer", commune),
                    ("cuc", "Lê Thị Cúc", "officer", village),
                    ("duc", "Phạm Minh Đức", "leader", commune),
                    ("khoa", "Đỗ Văn Khoa", "officer", other),
                    ("resident", "Nguyễn Thị Hoa", None, None)):
                p = await people.add_person(s, channel="telegram", user_id=key, chat_id=key,
                                            language="vi", display_name=name)
                if role and area:
                    await people.grant(s, p.id, role, area.id)
                ids[key] = p.id
            group = GroupChat(channel="telegram", chat_id="-100777", title="Trực ban Hải Châu",
                              area_id=commune.id, active=True)
            s.add(group)
            await s.flush()
            ids["group"] = group.id
    finally:
        await db.close()
    return ids


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``binhyen init --province 48`` plus seeded staff (copied, never changed)."""
    folder = tmp_path_factory.mktemp("rules_site")
    ok(binhyen(folder, "init", "--province", "48"))
    ids = asyncio.run(_seed(folder))
    (folder / "ids.json").write_text(json.dumps(ids), "utf-8")
    return folder


@pytest.fixture
def site(template: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    ids = json.loads((tmp_path / "ids.json").read_text("utf-8"))
    return tmp_path, {k: str(v) for k, v in ids.items()}


def audit_rows(folder: Path) -> list[tuple[str, str, dict]]:
    db = load_config(folder / "config.toml").database_url.split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, actor_label, details FROM audit_log "
                            "WHERE action LIKE 'rule.%' ORDER BY id").fetchall()
    return [(a, label, json.loads(d) if isinstance(d, str) else d) for a, label, d in rows]


def cli(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``binhyen --config … ARGS`` in this process: (status, stdout, stderr)."""
    status = main(["--config", str(folder / "config.toml"), *args])
    out, err = capsys.readouterr()
    return status, out, err


def rows(out: str) -> list[str]:
    lines = out.strip().splitlines()
    assert lines[0] == HEADER, lines
    return sorted(lines[1:])


def test_set_list_remove_as_processes(site, capsys):
    folder, ids = site
    # Two rules set in this process first, so one round of processes sees a known state.
    assert cli(folder, capsys, "rules", "set", "--area", "20242", "--officer", ids["duc"])[0] == 0
    assert cli(folder, capsys, "rules", "set", "--area", ids["village"], "--category",
               "NGHIVAN", "--officer", ids["cuc"], "--group", ids["group"])[0] == 0
    # Independent commands at once (SQLite serialises the writers).
    created, village_only, refused, removed = binhyen_many(folder, [
        ["rules", "set", "--area", "20242", "--category", "TOGIAC", "--officer", ids["binh"],
         "--backup", ids["cuc"]],
        ["rules", "list", "--area", ids["village"]],
        ["rules", "set", "--area", "99999", "--officer", ids["binh"]],
        ["rules", "remove", "--area", "20242"],
    ])
    assert ok(created).strip() == (
        f"rule set: 20242 Phường Hải Châu · TOGIAC → officer {ids['binh']} Trần Văn Bình, "
        f"backup {ids['cuc']} Lê Thị Cúc")
    village_row = (f"{ids['village']} Tổ dân phố 1\tNGHIVAN\t{ids['cuc']} Lê Thị Cúc\t—\t"
                   f"{ids['group']}")
    assert rows(ok(village_only)) == [village_row]
    assert error(refused) == ("binhyen: no area with code '99999' "
                              "(see `binhyen areas search`)")
    assert ok(removed).strip() == "rule removed: 20242 Phường Hải Châu · * (default)"

    assert rows(cli(folder, capsys, "rules", "list")[1]) == sorted([
        village_row,
        f"20242 Phường Hải Châu\tTOGIAC\t{ids['binh']} Trần Văn Bình\t{ids['cuc']} Lê Thị Cúc\t—"])
    audit = audit_rows(folder)
    assert sorted(a for a, _, _ in audit) == ["rule.remove"] + ["rule.set"] * 3
    assert {label for _, label, _ in audit} == {"cli"}
    crime = next(d for a, _, d in audit if a == "rule.set" and d["category"] == "TOGIAC")
    assert crime["area"] == "20242"
    assert (crime["officer"], crime["backup"]) == (int(ids["binh"]), int(ids["cuc"]))
    assert [d for a, _, d in audit if a == "rule.remove"] == [{"area": "20242",
                                                                "category": "*"}]


def test_rules_replace_take_effect_and_are_audited(site, capsys):
    folder, ids = site
    assert cli(folder, capsys, "rules", "list") == (0, "no rules\n", "")
    assert cli(folder, capsys, "rules", "set", "--area", "20242", "--category", "TOGIAC",
               "--officer", ids["binh"], "--backup", ids["cuc"])[0] == 0
    assert cli(folder, capsys, "rules", "set", "--area", "20242", "--officer",
               ids["duc"])[0] == 0
    # The same area and category again replaces the rule (lower case accepted).
    status, out, _ = cli(folder, capsys, "rules", "set", "--area", "20242", "--category",
                         "togiac", "--officer", ids["cuc"])
    assert status == 0 and "backup —" in out
    status, out, _ = cli(folder, capsys, "rules", "list")
    assert rows(out) == sorted([
        f"20242 Phường Hải Châu\tTOGIAC\t{ids['cuc']} Lê Thị Cúc\t—\t—",
        f"20242 Phường Hải Châu\t*\t{ids['duc']} Phạm Minh Đức\t—\t—"])

    # The rules are what routing uses.
    async def resolve(category: str) -> int | None:
        db = Database(make_engine(load_config(folder / "config.toml").database_url))
        try:
            async with db.read() as s:
                village = await areas.by_code(s, ids["village"])
                assert village is not None
                return (await routing.resolve(s, village, category)).officer_id
        finally:
            await db.close()

    assert asyncio.run(resolve("TOGIAC")) == int(ids["cuc"])
    assert asyncio.run(resolve("CUTRU")) == int(ids["duc"])

    status, out, _ = cli(folder, capsys, "rules", "remove", "--area", "20242",
                         "--category", "TOGIAC")
    assert (status, out) == (0, "rule removed: 20242 Phường Hải Châu · TOGIAC\n")
    assert asyncio.run(resolve("TOGIAC")) == int(ids["duc"])
    actions = [a for a, _, _ in audit_rows(folder)]
    assert actions == ["rule.set"] * 3 + ["rule.remove"]


def test_refusals_are_one_line_and_change_nothing(site, capsys):
    folder, ids = site
    cases = [
        (["--area", "99999", "--officer", ids["binh"]], "no area with code '99999'"),
        (["--area", "20242", "--category", "XYZ", "--officer", ids["binh"]],
         "unknown category 'XYZ' (one of: KHAN, TOGIAC"),
        (["--area", "20242", "--officer", "999999"], "--officer: no person with id 999999"),
        (["--area", "20242", "--officer", ids["resident"]],
         f"--officer: person {ids['resident']} has no staff role for Phường Hải Châu (20242)"),
        (["--area", "20242", "--officer", ids["khoa"]], "has no staff role"),
        (["--area", "20242", "--officer", ids["binh"], "--backup", ids["khoa"]],
         f"--backup: person {ids['khoa']} has no staff role"),
        (["--area", "20242", "--officer", ids["binh"], "--backup", ids["binh"]],
         "--backup must be someone other than --officer"),
        (["--area", "20242", "--category", "TOGIAC"], "give --officer PERSON_ID"),
        (["--area", "20242", "--group", "424242"], "--group: no active group chat with id 424242"),
    ]
    for args, expected in cases:
        status, out, err = cli(folder, capsys, "rules", "set", *args)
        lines = err.strip().splitlines()
        assert (status, out, len(lines)) == (1, "", 1), (args, err)
        assert lines[0].startswith("binhyen: ") and expected in lines[0], (args, err)
    status, _, err = cli(folder, capsys, "rules", "remove", "--area", "20242", "--category",
                         "PCCC")
    assert status == 1 and "no rule for 20242 Phường Hải Châu · PCCC" in err
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(folder / "config.toml"), "rules", "set", "--officer", "1"])
    assert exc.value.code == 2 and "--area" in capsys.readouterr().err
    assert audit_rows(folder) == []
    # A commune officer may own a street group's rule; a street group's officer the commune's.
    assert cli(folder, capsys, "rules", "set", "--area", ids["village"], "--officer",
               ids["binh"])[0] == 0
    assert cli(folder, capsys, "rules", "set", "--area", "20242", "--officer", ids["cuc"])[0] == 0
    assert [a for a, _, _ in audit_rows(folder)] == ["rule.set", "rule.set"]


async def _waiting_case(folder: Path, village_code: str) -> str:
    """A tip left "new" because nobody received tips when it was filed."""
    db = Database(make_engine(load_config(folder / "config.toml").database_url))
    now = datetime.now(UTC)
    try:
        async with db.uow() as s:
            await categories.ensure_defaults(s)
            village = await areas.by_code(s, village_code)
            assert village is not None
            s.add(Case(ref="BY-26-000042", kind="tip", category_code="CUTRU",
                       area_id=village.id, description="Nhà trọ số 3 có 12 người ở",
                       status="new", created_at=now - timedelta(days=2),
                       ack_due_at=now - timedelta(days=1), close_due_at=now + timedelta(days=1)))
        return "BY-26-000042"
    finally:
        await db.close()


def test_a_rule_passes_on_the_cases_that_waited(site, capsys):
    folder, ids = site
    ref = asyncio.run(_waiting_case(folder, ids["village"]))
    status, out, _ = cli(folder, capsys, "rules", "set", "--area", ids["village"],
                         "--category", "CUTRU", "--officer", ids["cuc"])
    assert status == 0 and out.splitlines()[-1] == f"passed on 1 waiting case(s): {ref}"
    db_path = load_config(folder / "config.toml").database_url.split("///", 1)[1]
    with sqlite3.connect(db_path) as conn:
        case_id, state, assignee = conn.execute(
            "SELECT id, status, assignee_id FROM cases WHERE ref = ?", (ref,)).fetchone()
        rows = conn.execute("SELECT kind, chat_id, state FROM deliveries WHERE case_id = ?",
                            (case_id,)).fetchall()
        route = conn.execute("SELECT details FROM audit_log WHERE action = 'case.route'"
                             ).fetchone()[0]
    assert (state, assignee) == ("routed", int(ids["cuc"]))
    assert rows == [("case_notify", "cuc", "pending")]  # the running bot sends it
    assert json.loads(route)["trigger"] == "rule.set"
    # Set again: nothing is waiting any more.
    status, out, _ = cli(folder, capsys, "rules", "set", "--area", ids["village"],
                         "--category", "CUTRU", "--officer", ids["cuc"])
    assert status == 0 and "passed on" not in out


def test_rules_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "rules" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["rules", "--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("set", "list", "remove"))
