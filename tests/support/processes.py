"""Real bot processes for the scale-out tests: ``python -m bot --config … run --role …``
(or any ``python -m bot`` command line with its own environment: ``BotProcess.start_args``
for servers, ``bot_command`` for one-shot commands).

Every process gets its own web port (``BINHYEN_WEB__PORT``), logs to a file in the test's
folder (shown when it fails to start), and is ready once ``/healthz`` answers. Telegram
runs in webhook mode against the fake in its own process
(:mod:`tests.support.fake_telegram_process`); tests POST updates to a chosen process's
webhook. The database is a fresh PostgreSQL one, migrated and seeded by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.tables import Area, Delivery, Identity, Person

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:SCALE-test"
SECRET = "scale-webhook-secret"
FAST = {"heartbeat_seconds": 0.5, "failover_seconds": 1, "lease_seconds": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(folder: Path, db_url: str, api: str, **sections: dict[str, Any]) -> Path:
    """A config for the bot processes of one test; keyword dicts add or override keys."""
    data: dict[str, dict[str, Any]] = {
        "database": {"url": db_url, "pool_size": 5},
        "telegram": {"token": TOKEN, "api_url": api,
                     "file_url": api.replace("/bot", "/file/bot"), "mode": "webhook",
                     "webhook_url": "http://127.0.0.1:1/telegram/webhook",
                     "webhook_secret": SECRET},
        "bot": {"data_dir": str(folder / "data")},
        "security": {"data_key": generate_key()},
        "run": dict(FAST),
        "logging": {"level": "INFO"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path = folder / "config.toml"
    path.write_text("".join(f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in
                                                    values.items()) + "\n"
                            for name, values in data.items()), "utf-8")
    path.chmod(0o600)
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    return {**env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **extra}


class BotProcess:
    """One ``binhyen run`` process."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, port: int,
                 log: Path) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def worker_name(self) -> str:
        """Its name in ``workers`` and ``deliveries.claimed_by``."""
        return f"{socket.gethostname()}:{self.pid}"

    @property
    def webhook(self) -> str:
        return self.url("/telegram/webhook")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @classmethod
    async def start(cls, config: Path, *roles: str, name: str = "") -> BotProcess:
        args = ["--config", str(config), "run", *(a for r in roles for a in ("--role", r))]
        return await cls.start_args(args, config.parent, name=name or "-".join(roles))

    @classmethod
    async def start_args(cls, args: Sequence[str], folder: Path, *, name: str,
                         env: Mapping[str, str] | None = None) -> BotProcess:
        """``python -m bot ARGS`` with ``env`` as its only BINHYEN_* variables (plus its
        own ``BINHYEN_WEB__PORT``); ready once ``/healthz`` answers."""
        port = free_port()
        log = folder / f"{name}-{port}.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *args, cwd=ROOT,
                env=_env(**{**(env or {}), "BINHYEN_WEB__PORT": str(port)}),
                stdout=asyncio.subprocess.DEVNULL, stderr=err)
        bot = cls(name, proc, port, log)
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(bot.url("/healthz")) as r:
                        if r.status == 200:
                            return bot
                await asyncio.sleep(0.1)
        await bot.close()
        raise RuntimeError(f"{name} did not start:\n{bot.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text("utf-8", "replace")[-chars:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def term(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    async def wait(self, timeout: float = 20) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.term()
            try:
                await self.wait(15)
            except TimeoutError:
                self.kill()
                await self.proc.wait()

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(self.url(path)) as r:
            return r.status, await r.text()


async def bot_command(args: Sequence[str], env: Mapping[str, str] | None = None,
                      timeout: float = 60) -> tuple[int, str, str]:
    """Run a one-shot ``python -m bot ARGS`` (``env``: its only BINHYEN_* variables);
    returns the exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=_env(**(env or {})),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def start_all(config: Path, *specs: tuple[str, ...]) -> list[BotProcess]:
    """Start processes side by side (each spec: its roles)."""
    return list(await asyncio.gather(*(BotProcess.start(config, *roles) for roles in specs)))


async def close_all(procs: Iterable[BotProcess]) -> None:
    await asyncio.gather(*(p.close() for p in procs), return_exceptions=True)


def metric(text: str, name: str) -> float:
    """The value of an unlabelled metric in a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise LookupError(name)


# --- the database -------------------------------------------------------------------------

async def migrated(url: str) -> None:
    db = Database(make_engine(url))
    try:
        await db.upgrade()
    finally:
        await db.close()


async def seed_residents(url: str, n: int, *, first_user: int = 20_000,
                         area_code: str = "20242") -> int:
    """``n`` consenting residents of one commune with Telegram chats first_user…; returns
    the commune's area id."""
    db = Database(make_engine(url))
    try:
        async with db.uow() as s:
            area = Area(code=area_code, level="commune", name="Hải Châu", type="Phường",
                        key="phuong hai chau")
            s.add(area)
            await s.flush()
            first_id = (await s.execute(select(func.coalesce(func.max(Person.id), 0)))
                        ).scalar_one() + 1
            await s.execute(insert(Person), [
                {"id": first_id + i, "home_area_id": area.id, "consent": True,
                 "language": "vi"} for i in range(n)])
            await s.execute(insert(Identity), [
                {"person_id": first_id + i, "channel": "telegram",
                 "user_id": str(first_user + i), "chat_id": str(first_user + i)}
                for i in range(n)])
            return int(area.id)
    finally:
        await db.close()


async def enqueue_burst(url: str, chats: dict[int, int], key: str) -> int:
    """Queue ``chats[chat]`` notifications to each chat, due now; returns the rows.

    One multi-row INSERT (hundreds of ``outbox.enqueue`` calls take seconds on a busy
    machine), then the lanes from the same expression ``outbox.enqueue`` uses."""
    from sqlalchemy import update

    from bot.domain.messages import Reply
    from broadcasts import outbox

    at = now()
    rows = [{"dedupe_key": f"{key}:{chat}:{i}", "kind": "notice", "channel": "telegram",
             "chat_id": str(chat), "is_group": chat < 0,
             "payload": Reply(f"Thông báo {key} số {i + 1}").to_dict(), "priority": 5,
             "state": "pending", "attempts": 0, "next_attempt_at": at, "created_at": at}
            for chat, n in chats.items() for i in range(n)]
    db = Database(make_engine(url))
    try:
        async with db.uow() as s:
            await s.execute(insert(Delivery), rows)
            await s.execute(update(Delivery).where(Delivery.dedupe_key.like(f"{key}:%"))
                            .values(lane=outbox.lane(Delivery.chat_id, True)))
        return len(rows)
    finally:
        await db.close()


async def delivery_states(url: str, key: str = "", **where: Any) -> dict[str, int]:
    """Rows per state (of the burst ``key`` if given, or matching ``where``)."""
    db = Database(make_engine(url))
    try:
        async with db.read() as s:
            stmt = select(Delivery.state, func.count()).group_by(Delivery.state)
            if key:
                stmt = stmt.where(Delivery.dedupe_key.like(f"{key}:%"))
            for col, value in where.items():
                stmt = stmt.where(getattr(Delivery, col) == value)
            return {k: int(v) for k, v in (await s.execute(stmt)).all()}
    finally:
        await db.close()


def now() -> datetime:
    return datetime.now(UTC)
