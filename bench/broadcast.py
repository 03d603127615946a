"""Broadcasts at scale: fan-out of 10,000 and 100,000 recipients, and sending them through
the fake Telegram server (its own process, flood limits on) at 30/s and, with paid
broadcasts, 1,000/s.

Every step runs in its own process, so each has its own core and its own peak memory:
``seed`` writes a province of recipients (one commune each, round robin; 5 % English;
a linked group chat per commune), ``fanout`` times audience resolution plus the delivery
rows (one INSERT … SELECT) and reports its peak RSS, ``send`` runs the real dispatcher and
Telegram channel against ``bench.broadcast_fake`` and reports its CPU time. The rates are
the fake's own counts: sustained = messages per second between 10 % and 100 % of a run.

Run from the repository root::

    .venv/bin/python -m bench.broadcast                     # the whole matrix (~15 min)
    .venv/bin/python -m bench.broadcast fanout --recipients 100000 --db postgresql
    .venv/bin/python -m bench.broadcast send --recipients 10000 --limit 30 --seconds 90
    .venv/bin/python -m bench.broadcast send --recipients 100000 --limit 1000 --paid
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bot.config import Config, build_config
from bot.services import areas as areas_svc
from broadcasts import compose, fanout
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.repos import areas
from storage.tables import Broadcast, BroadcastOccurrence, Delivery, GroupChat, Identity, Person

TOKEN = "123:ABC"
KEY = generate_key()
ROOT = Path(__file__).resolve().parents[1]


def config_for(url: str, *, api: str = "http://127.0.0.1:1/bot", limit: float = 30,
               paid: bool = False) -> Config:
    return build_config({"database": {"url": url}, "security": {"data_key": KEY},
                         "bot": {"data_dir": tempfile.gettempdir()},
                         "telegram": {"token": TOKEN, "api_url": api, "file_url": api},
                         "limits": {"global_per_second": limit, "paid_broadcast": paid}},
                        environ={})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- steps

async def seed(url: str, n: int) -> None:
    db = Database(make_engine(url))
    await db.upgrade()
    async with db.uow() as s:
        await areas_svc.import_units(s, "48")
        communes = [a.id for a in await areas.by_level(s, "commune")]
        await s.execute(insert(GroupChat), [{"channel": "telegram", "chat_id": str(-10_000 - i),
                                             "area_id": c, "active": True}
                                            for i, c in enumerate(communes)])
    for start in range(0, n, 20_000):
        part = range(start, min(n, start + 20_000))
        async with db.uow() as s:
            await s.execute(insert(Person), [
                {"id": 1 + i, "home_area_id": communes[i % len(communes)], "consent": True,
                 "language": "en" if i % 20 == 0 else "vi"} for i in part])
            await s.execute(insert(Identity), [
                {"person_id": 1 + i, "channel": "telegram", "user_id": str(1_000_000 + i),
                 "chat_id": str(1_000_000 + i)} for i in part])
    async with db.uow() as s:
        province = await areas.by_code(s, "48")
        assert province is not None
        draft = compose.Draft(template="scams", areas=[province.id], urgent=True)
        await compose.create(s, draft, author_id=None, roles=[("admin", province.id)],
                             config=config_for(url), now=datetime.now(UTC), actor_label="bench")
    await db.close()


async def fan_out(url: str) -> dict[str, Any]:
    config = config_for(url)
    db = Database(make_engine(url))
    now = datetime.now(UTC)
    started = time.perf_counter()
    async with db.uow() as s:
        bc = (await s.execute(select(Broadcast))).scalar_one()
        occ = BroadcastOccurrence(broadcast_id=bc.id, due_at=now, state="due")
        s.add(occ)
        await s.flush()
        rows = await fanout.fan_out(s, bc, occ, now, config)
    seconds = time.perf_counter() - started
    await db.close()
    return {"rows": rows, "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}


async def send(url: str, api: str, limit: float, paid: bool, seconds: float) -> dict[str, Any]:
    from bot.app import build_runtime

    rt = await build_runtime(config_for(url, api=api, limit=limit, paid=paid))
    assert rt.telegram is not None
    await rt.telegram.start(intake=False)
    async with rt.deps.db.read() as s:
        total = (await s.execute(select(func.count()).select_from(Delivery))).scalar_one()
    cpu0, started = time.process_time(), time.monotonic()
    task = asyncio.create_task(rt.dispatcher.run(idle_poll=0.5))
    done = 0
    while time.monotonic() - started < seconds and done < total:
        await asyncio.sleep(1)
        async with rt.deps.db.read() as s:
            done = (await s.execute(select(func.count()).select_from(Delivery).where(
                Delivery.state.in_(("sent", "failed", "unreachable"))))).scalar_one()
    rt.dispatcher.stop()
    await task
    result = {"total": total, "recorded": done, "cpu_s": round(time.process_time() - cpu0, 1),
              "wall_s": round(time.monotonic() - started, 1), "peak_mb": round(peak_mb())}
    await rt.telegram.stop()
    await rt.deps.db.close()
    return result


# --------------------------------------------------------------------------- driver

async def child(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.broadcast", *args,
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"bench.broadcast {' '.join(args)} failed ({proc.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1] or "{}")


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "postgresql":
        from tests.support.databases import fresh_pg_database
        async with fresh_pg_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"


async def run_fanout(kind: str, n: int) -> dict[str, Any]:
    async with database(kind) as url:
        await child("_seed", url, str(n))
        return await child("_fanout", url)


async def run_send(kind: str, n: int, limit: int, paid: bool, seconds: float) -> dict[str, Any]:
    async with database(kind) as url:
        await child("_seed", url, str(n))
        await child("_fanout", url)
        fake = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.broadcast_fake", "--global-per-sec",
            str(min(limit, 30)), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        assert fake.stdout is not None
        api = (await fake.stdout.readline()).decode().split()[1]
        stats: list[tuple[float, int, int, int, float]] = []

        async def read() -> None:
            assert fake.stdout is not None
            async for line in fake.stdout:
                parts = line.decode().split()
                if parts and parts[0] == "STAT":
                    stats.append((float(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]),
                                  float(parts[5])))

        reader = asyncio.create_task(read())
        try:
            result = await child("_send", url, api, str(limit), "1" if paid else "0",
                                 str(seconds))
            await asyncio.sleep(0.6)
        finally:
            fake.terminate()
            await fake.wait()
            await reader
    sent = stats[-1][1]
    moving = [s for s in stats if s[1] > 0]
    t0, n0 = next((s[0], s[1]) for s in moving if s[1] >= sent * 0.1)
    t1, n1 = next((s[0], s[1]) for s in moving if s[1] >= sent)
    rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
    return {**result, "sent": sent, "rate": round(rate, 1), "of_limit": round(rate / limit, 3),
            "answers_429": stats[-1][2], "duplicates": stats[-1][3],
            "fake_cpu_s": round(stats[-1][4], 1)}


async def matrix(args: argparse.Namespace) -> None:
    for kind in args.db:
        for n in (10_000, 100_000):
            print(f"fanout {kind} {n}: {await run_fanout(kind, n)}", flush=True)
    for kind in args.db:
        print(f"send {kind} 10000 at 30/s, {args.seconds:.0f} s: "
              f"{await run_send(kind, 10_000, 30, False, args.seconds)}", flush=True)
        for n in (10_000, 100_000):
            print(f"send {kind} {n} at 1000/s paid: "
                  f"{await run_send(kind, n, 1000, True, 600)}", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        step, rest = sys.argv[1], sys.argv[2:]
        coro = {"_seed": lambda: seed(rest[0], int(rest[1])), "_fanout": lambda: fan_out(rest[0]),
                "_send": lambda: send(rest[0], rest[1], float(rest[2]), rest[3] == "1",
                                      float(rest[4]))}[step]()
        print(json.dumps(asyncio.run(coro) or {}), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("what", nargs="?", choices=("all", "fanout", "send"), default="all")
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=30, help="messages per second")
    parser.add_argument("--paid", action="store_true", help="allow_paid_broadcast (to 1000/s)")
    parser.add_argument("--seconds", type=float, default=90, help="longest send run")
    args = parser.parse_args()
    if args.what == "all":
        asyncio.run(matrix(args))
        return
    for kind in args.db:
        if args.what == "fanout":
            result = asyncio.run(run_fanout(kind, args.recipients))
        else:
            result = asyncio.run(run_send(kind, args.recipients, args.limit, args.paid,
                                          args.seconds))
        print(f"{args.what} {kind} {args.recipients}: {result}", flush=True)


if __name__ == "__main__":
    main()
