"""The ``binhyen`` command line, run as real processes in a scratch folder."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.init import render_config
from bot.cli.main import build_parser, main
from bot.config import load_config
from bot.services import invites
from storage.admin_units import load_units
from storage.db import Database, make_engine

TIMEOUT = 120
DA_NANG_COMMUNES = len(load_units().province("48").communes)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def binhyen(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def binhyen_many(cwd: Path, commands: Sequence[Sequence[str]]
                 ) -> list[subprocess.CompletedProcess[str]]:
    """Run independent read-only commands side by side (each start-up takes seconds)."""
    procs = [subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=cwd, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in commands]
    done = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=TIMEOUT)
        done.append(subprocess.CompletedProcess([*args], proc.returncode, out, err))
    return done


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("binhyen: ")
    return lines[0]


def server_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    """``run`` logs to stderr (per [logging]); its refusal is still one clear line."""
    assert result.returncode == status, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("binhyen: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


async def _schema_and_counts(url: str) -> tuple[set[str], set[str], dict[str, int]]:
    db = Database(make_engine(url))
    try:
        current, heads = await db.schema_state()
    finally:
        await db.close()
    return current, heads, _levels(Path(url.split("///", 1)[1]))


def _levels(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT level, count(*) FROM areas GROUP BY level").fetchall())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``binhyen init --province 48`` has run (copied, never changed)."""
    folder = tmp_path_factory.mktemp("initialised")
    ok(binhyen(folder, "init", "--province", "48"))
    return folder


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    """A private copy of the initialised folder."""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def unmigrated(tmp_path: Path) -> Path:
    """A valid config whose database has never been migrated."""
    (tmp_path / "config.toml").write_text(render_config(), "utf-8")
    return tmp_path


# --- init ------------------------------------------------------------------------------


def test_init_writes_a_private_config_and_a_migrated_database(tmp_path: Path) -> None:
    out = ok(binhyen(tmp_path, "init", "--province", "48"))
    path = tmp_path / "config.toml"
    assert "wrote config.toml" in out and f"{DA_NANG_COMMUNES + 1} areas imported" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    config = load_config(path, environ={})  # valid without any environment help
    assert config.security.data_key and config.web.session_secret
    assert config.bot.province == "48"
    assert config.data_path == tmp_path / "data"
    current, heads, levels = asyncio.run(_schema_and_counts(config.database_url))
    assert current == heads
    assert levels == {"province": 1, "commune": DA_NANG_COMMUNES}

    # The comments of the example survive, so the operator's file documents itself.
    assert path.read_text("utf-8").count("\n# ") > 30

    # A second init is refused unless forced.
    again = binhyen(tmp_path, "init", "--province", "48")
    assert "already exists" in one_line_error(again, 1)
    assert "--force" in again.stderr
    assert load_config(path, environ={}).security.data_key == config.security.data_key

    ok(binhyen(tmp_path, "init", "--province", "48", "--force"))
    forced = load_config(path, environ={})
    # Forced, it rewrites the file but keeps the secrets: a new data key would make the
    # encrypted ID numbers already in the database unreadable.
    assert forced.security.data_key == config.security.data_key
    assert forced.web.session_secret == config.web.session_secret
    assert asyncio.run(_schema_and_counts(forced.database_url))[2] == levels  # idempotent


# --- db --------------------------------------------------------------------------------


def test_db_upgrade_then_already_at_head(unmigrated: Path) -> None:
    first = ok(binhyen(unmigrated, "db", "upgrade"))
    assert "schema upgraded: empty →" in first
    second = ok(binhyen(unmigrated, "db", "upgrade"))
    assert second.startswith("schema already at 0001")


# --- areas -----------------------------------------------------------------------------


def test_areas_search_is_accent_and_case_insensitive(template: Path) -> None:
    queries = ["hai chau", "Hải Châu", "HAI CHÂU", unicodedata.normalize("NFD", "Hải Châu")]
    results = binhyen_many(template, [["areas", "search", q] for q in queries])
    for query, result in zip(queries, results, strict=True):
        lines = ok(result).splitlines()
        assert lines, query
        code, _, where = lines[0].partition("\t")
        assert code == "20242", (query, lines)
        assert where.startswith("Phường Hải Châu"), (query, lines)
        assert "Thành phố Đà Nẵng" in where  # with its province


def test_areas_list(template: Path) -> None:
    communes, provinces = binhyen_many(template, [["areas", "list", "--parent", "48"],
                                                  ["areas", "list"]])
    lines = ok(communes).splitlines()
    assert len(lines) == DA_NANG_COMMUNES
    assert "20242\tPhường Hải Châu" in lines
    assert all(line.split("\t")[1].startswith(("Phường ", "Xã ", "Đặc khu ")) for line in lines)
    assert ok(provinces).splitlines() == ["48\tThành phố Đà Nẵng"]


def test_areas_add_village(site: Path) -> None:
    out = ok(binhyen(site, "areas", "add", "--parent", "20242", "--name", "Tổ dân phố 5"))
    assert out.splitlines() == ["20242-1\tTổ dân phố 5"]
    assert "20242-1\tTổ dân phố 5" in ok(binhyen(site, "areas", "list", "--parent", "20242"))

    twice = binhyen(site, "areas", "add", "--parent", "20242", "--name", "Tổ dân phố 5")
    message = one_line_error(twice, 1)
    assert "Tổ dân phố 5 already exists in Phường Hải Châu" in message
    assert twice.stdout == ""


def test_areas_import_all_provinces(unmigrated: Path) -> None:
    ok(binhyen(unmigrated, "db", "upgrade"))
    out = ok(binhyen(unmigrated, "areas", "import"))
    assert "3355 added, 0 updated" in out
    assert _levels(unmigrated / "data" / "binhyen.db") == {"province": 34, "commune": 3321}


# --- staff -----------------------------------------------------------------------------


def test_invite_prints_a_working_web_chat_link(site: Path) -> None:
    out = ok(binhyen(site, "invite", "--role", "officer", "--area", "20242", "--expires", "2h"))
    assert "officer for Phường Hải Châu (20242)" in out
    link = next(line for line in out.splitlines() if line.startswith("Web chat: "))
    assert link.startswith("Web chat: http://127.0.0.1:8080/chat?start=inv_")
    token = link.split("?start=inv_", 1)[1]
    assert f"/start inv_{token}" in out
    assert "Telegram" not in out  # Telegram is not configured

    async def check() -> str:
        config = load_config(site / "config.toml", environ={})
        db = Database(make_engine(config.database_url))
        try:
            async with db.read() as s:
                invite, area = await invites.lookup(s, token, datetime.now(UTC))
                assert (invite.expires_at - datetime.now(UTC)).total_seconds() <= 2 * 3600
                return area.code
        finally:
            await db.close()

    assert asyncio.run(check()) == "20242"


def test_invite_without_the_web_chat_prints_no_web_link(site: Path) -> None:
    out = ok(binhyen(site, "invite", "--role", "officer", "--area", "20242",
                     BINHYEN_WEB__WEBCHAT="false"))
    assert "officer for Phường Hải Châu (20242)" in out
    assert "Web chat" not in out and "/chat" not in out  # [web] webchat = false: no page
    assert "Code:     /start inv_" in out


def test_invite_for_an_unknown_area(template: Path) -> None:
    result = binhyen(template, "invite", "--role", "officer", "--area", "99999")
    assert "no area with code '99999'" in one_line_error(result, 1)


def test_staff_list_when_empty(template: Path) -> None:
    assert ok(binhyen(template, "staff", "list")).strip() == "no staff"


# --- help ------------------------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
              ) -> Iterator[tuple[str, ...]]:
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


def test_help_for_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    commands = list(_commands(build_parser()))
    names = {" ".join(c) for c in commands}
    assert {"", "init", "db upgrade", "areas add", "invite", "staff list", "run"} <= names
    # Every command in one interpreter (a process start costs a second or two)…
    monkeypatch.chdir(tmp_path)
    for command in commands:
        with pytest.raises(SystemExit) as info:
            main([*command, "--help"])
        assert info.value.code == 0, command
        out = capsys.readouterr().out
        assert out.startswith(f"usage: binhyen {' '.join(command)}".rstrip()), command
    # …and the real entry point once.
    top = ok(binhyen(tmp_path, "--help"))
    assert all(c in top for c in ("init", "db", "areas", "invite", "staff", "run"))
    assert not (tmp_path / "config.toml").exists()  # asking for help changes nothing


# --- config errors ---------------------------------------------------------------------


def test_config_errors_exit_2_with_one_line(site: Path) -> None:
    good = (site / "config.toml").read_text("utf-8")
    (site / "unknown.toml").write_text(good.replace("[web]\n", "[web]\nprot = 1\n"), "utf-8")
    (site / "badkey.toml").write_text(good.replace("data_key = \"", "data_key = \"x"), "utf-8")
    unknown, missing, badkey = binhyen_many(site, [
        ["--config", "unknown.toml", "staff", "list"],
        ["--config", "missing.toml", "staff", "list"],
        ["--config", "badkey.toml", "staff", "list"]])

    line = one_line_error(unknown, 2)
    assert "unknown.toml" in line and "[web] prot: unknown key" in line
    line = one_line_error(missing, 2)
    assert "missing.toml" in line and "cannot read" in line
    line = one_line_error(badkey, 2)
    assert "badkey.toml" in line and "[security] data_key" in line
    assert "config error" in line


# --- run -------------------------------------------------------------------------------


def test_run_refuses_an_unmigrated_database(unmigrated: Path) -> None:
    started = time.monotonic()
    result = binhyen(unmigrated, "run", BINHYEN_WEB__PORT="0")
    assert time.monotonic() - started < 30  # refuses at once, does not hang
    line = server_error(result, 1)
    assert "binhyen db upgrade" in line
    assert "Bình Yên is running" not in result.stdout


class _Server:
    """``binhyen run`` in the background, with its output collected as it comes."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=cwd,
                                     env=_env(BINHYEN_WEB__PORT="0"), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.running = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)
            if "is running" in line:
                self.running.set()
        self.running.set()  # ended: stop waiting

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self._reader.join(5)
        return self.proc.returncode, err


def test_run_twice_on_one_sqlite_folder(site: Path) -> None:
    first = _Server(site)
    try:
        assert first.running.wait(60), "the first process never said it was running"
        assert first.proc.poll() is None, "".join(first.out)
        banner = "".join(first.out)
        assert "web chat at http://127.0.0.1:" in banner
        port = int(banner.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        assert port != 0  # the port the system picked, not the 0 we asked for

        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200

        second = binhyen(site, "run", BINHYEN_WEB__PORT="0")
        line = server_error(second, 1)
        assert "another Bình Yên process" in line and str(site / "data") in line
        assert first.proc.poll() is None  # the first one is unaffected
    finally:
        status, err = first.stop()
    assert status == 0, err
    assert "Traceback" not in err
