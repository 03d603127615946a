"""Tips through the whole stack: latency from a tip's final "submit" press to the officer's
notification, at a steady rate, on SQLite and on PostgreSQL.

Three processes, as in production plus Telegram: the fake Bot API (``bench.fake_remote``:
``tests.fakes.telegram_api`` with a control port), the bot (``python -m bot run``, webhook
mode, its own dispatcher and scheduler), and this driver. Residents are onboarded in the
database beforehand (one officer per commune of Đà Nẵng, residents spread over the
communes); each resident then walks /baotin up to the review screen through the real
dialog (not timed), and the measured phase presses "Gửi tin" for ``rate`` residents a
second. Latency = the officer's notification recorded by the fake − the press injected
into the fake, both on the fake's monotonic clock. Lost (never notified) and duplicated
notifications are counted; both must be zero.

Run from the repository root::

    .venv/bin/python -m bench.tips                       # 60 s at 20 tips/s, both databases
    .venv/bin/python -m bench.tips --duration 20 --db sqlite
    .venv/bin/python -m bench.tips --global-rate 30      # Telegram's free-tier global cap
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import load_config
from bot.services import areas as areas_svc
from bot.services import categories
from storage.admin_units import load_units
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.repos import areas, people

TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
PROVINCE = "48"
OFFICER_BASE = 5_000_000
RESIDENT_BASE = 6_000_000
PG_ADMIN = os.environ.get("BINHYEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REF = re.compile(r"BY-\d\d-\d{6}")
DRAFT_GLOBAL_RATE = 1000.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Resident:
    user: int
    where: str  # the label of their home area on the "where" question


@dataclass
class Run:
    backend: str
    residents: list[Resident] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    submitted: dict[int, float] = field(default_factory=dict)  # user → t0 of the press
    reply_at: dict[int, float] = field(default_factory=dict)  # user → the direct answer
    submit_errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # process → CPU s while measured
    wall: float = 0.0  # seconds from the first press until drained
    draft_seconds: float = 0.0
    draft_updates: int = 0


# --- processes ------------------------------------------------------------------------


async def start_fake(run: Run) -> tuple[asyncio.subprocess.Process, str, str, asyncio.Task]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fake_remote", "--port", "0", "--control-port", "0",
        "--token", TOKEN, stdout=asyncio.subprocess.PIPE, env=_env(), limit=1 << 20)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    _, api, control = line.split()

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            if raw.startswith(b"SENT "):
                run.sent.append(json.loads(raw[5:]))

    return proc, api, control, asyncio.create_task(read())


def write_config(folder: Path, db_url: str, api: str, port: int,
                 global_rate: float | None, key: str) -> Path:
    limits = f"global_per_second = {global_rate}\n" if global_rate else ""
    text = f"""[database]
url = "{db_url}"

[telegram]
token = "{TOKEN}"
api_url = "{api}"
file_url = "{api.replace('/bot', '/file/bot')}"
mode = "webhook"
webhook_url = "http://127.0.0.1:{port}/telegram/webhook"
webhook_secret = "{SECRET}"

[web]
port = {port}

[bot]
data_dir = "{folder / 'data'}"

[security]
data_key = "{key}"

[limits]
{limits}
[logging]
level = "WARNING"
"""
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    path.chmod(0o600)
    load_config(path)  # fail here, not in the bot process, if the file is wrong
    return path


async def seed(db_url: str, residents: int) -> list[Resident]:
    """Areas, one officer per commune, and onboarded residents spread over the communes."""
    db = Database(make_engine(db_url))
    try:
        await db.upgrade()
        async with db.uow() as s:
            await areas_svc.import_units(s, PROVINCE)
            await categories.ensure_defaults(s)
            communes = [c for c in await areas.by_level(s, "commune")
                        if c.code in {u.code for u in load_units().province(PROVINCE).communes}]
            for i, commune in enumerate(communes):
                uid = str(OFFICER_BASE + i)
                officer = await people.add_person(s, channel="telegram", user_id=uid,
                                                  chat_id=uid, language="vi",
                                                  display_name=f"Cán bộ {commune.name}")
                officer.consent = True
                await people.grant(s, officer.id, "officer", commune.id)
            out = []
            for i in range(residents):
                commune = communes[i % len(communes)]
                uid = str(RESIDENT_BASE + i)
                person = await people.add_person(s, channel="telegram", user_id=uid,
                                                 chat_id=uid, language="vi",
                                                 display_name=f"Dân {i}")
                person.consent, person.home_area_id = True, commune.id
                out.append(Resident(RESIDENT_BASE + i, f"📍 {areas.label(commune)}"))
        return out
    finally:
        await db.close()


async def start_bot(config: Path, port: int, profile: Path | None = None
                    ) -> asyncio.subprocess.Process:
    # Logs go to a file: an unread pipe that fills up would stall the bot.
    log = config.parent / "bot.log"
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *prefix, "-m", "bot", "--config", str(config), "run", env=_env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=err)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            await asyncio.sleep(0.1)
    await stop(proc)
    raise RuntimeError(f"bot did not start: {log.read_text('utf-8', 'replace')[-3000:]}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# --- driving users ----------------------------------------------------------------------


class Driver:
    def __init__(self, http: aiohttp.ClientSession, control: str) -> None:
        self.http = http
        self.control = control
        self.updates = 0

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.control}{path}", json=body) as r:
            data: dict[str, Any] = await r.json()
            if r.status != 200:
                raise RuntimeError(f"{path} {body}: {data}")
        self.updates += 1
        return data

    async def text(self, user: int, text: str) -> dict[str, Any]:
        return await self._post("/text", {"user": user, "text": text})

    async def press(self, user: int, label: str, tries: int = 1) -> dict[str, Any]:
        for attempt in range(tries):
            try:
                return await self._post("/press", {"user": user, "label": label})
            except RuntimeError:
                if attempt + 1 == tries:
                    raise
                await asyncio.sleep(0.5)  # the previous answer is still on its way
        raise AssertionError("unreachable")

    async def draft(self, r: Resident) -> None:
        """/baotin up to the review screen, as a resident would (not timed)."""
        await self.text(r.user, "/baotin")
        await self.press(r.user, "Tố giác tội phạm", tries=20)
        await self.text(r.user, f"Người lạ đi xe máy không biển số quanh hẻm, lần {r.user}")
        await self.press(r.user, r.where, tries=20)
        await self.press(r.user, "Bỏ qua", tries=20)  # exact place
        await self.press(r.user, "Đang xảy ra", tries=20)
        await self.press(r.user, "Bỏ qua", tries=20)  # photos
        await self.press(r.user, "Ẩn danh", tries=20)  # the review screen with "Gửi tin"


async def draft_all(run: Run, driver: Driver, concurrency: int) -> None:
    queue: asyncio.Queue[Resident] = asyncio.Queue()
    for r in run.residents:
        queue.put_nowait(r)

    async def worker() -> None:
        while not queue.empty():
            await driver.draft(queue.get_nowait())

    started, before = time.perf_counter(), driver.updates
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.draft_seconds = time.perf_counter() - started
    run.draft_updates = driver.updates - before


async def submit_all(run: Run, driver: Driver, rate: float, count: int) -> None:
    """Press "Gửi tin" for ``rate`` residents a second, on schedule (open loop)."""
    loop = asyncio.get_running_loop()

    async def one(r: Resident) -> None:
        try:
            out = await driver.press(r.user, "Gửi tin")
        except (RuntimeError, aiohttp.ClientError):
            run.submit_errors += 1
            return
        run.submitted[r.user] = out["t0"]
        for x in out["replies"]:
            if "Mã tin" in x["text"]:
                run.reply_at[r.user] = x["at"]

    start = loop.time() + 0.2
    tasks = []
    for i, r in enumerate(run.residents[:count]):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(r)))
    await asyncio.gather(*tasks)


def notifications(run: Run) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for s in run.sent:
        if OFFICER_BASE <= s["chat"] < RESIDENT_BASE and "Tin mới" in s["text"]:
            ref = REF.search(s["text"])
            if ref:
                found[ref.group(0)].append(s["at"])
    return found


def refs_of(run: Run) -> dict[int, str]:
    out = {}
    for s in run.sent:
        if s["chat"] >= RESIDENT_BASE and "Mã tin" in s["text"]:
            ref = REF.search(s["text"])
            if ref:
                out[s["chat"]] = ref.group(0)
    return out


async def wait_drained(run: Run, control: str, http: aiohttp.ClientSession,
                       seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with http.post(f"{control}/flush") as r:
            await r.read()
        await asyncio.sleep(0.3)
        refs = refs_of(run)
        got = notifications(run)
        if len(refs) >= len(run.submitted) and all(ref in got for ref in refs.values()):
            await asyncio.sleep(1.0)  # let late duplicates show up too
            return


# --- reporting ---------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def achieved_rate(run: Run) -> float:
    """Presses injected per second, from the fake's own timestamps."""
    t0 = sorted(run.submitted.values())
    return (len(t0) - 1) / (t0[-1] - t0[0]) if len(t0) > 1 and t0[-1] > t0[0] else 0.0


def summarise(run: Run) -> dict[str, Any]:
    refs = refs_of(run)
    got = notifications(run)
    latencies = [(min(got[refs[u]]) - t0) * 1000 for u, t0 in run.submitted.items()
                 if u in refs and refs[u] in got]
    replies = [(run.reply_at[u] - t0) * 1000 for u, t0 in run.submitted.items()
               if u in run.reply_at]
    delivered_status = {s["chat"]: s["at"] for s in run.sent
                        if s["chat"] >= RESIDENT_BASE and "đã đến cán bộ" in s["text"]}
    status_lat = [(delivered_status[u] - t0) * 1000 for u, t0 in run.submitted.items()
                  if u in delivered_status]
    lost = sum(1 for u in run.submitted if u not in refs or refs[u] not in got)
    duplicated = sum(len(v) - 1 for v in got.values())
    return {
        "backend": run.backend,
        "submitted": len(run.submitted),
        "submit_errors": run.submit_errors,
        "achieved_rate": achieved_rate(run),
        "notify_ms": {"p50": pct(latencies, 50), "p90": pct(latencies, 90),
                      "p99": pct(latencies, 99), "max": max(latencies, default=float("nan")),
                      "mean": statistics.fmean(latencies) if latencies else float("nan")},
        "reply_ms": {"p50": pct(replies, 50), "p99": pct(replies, 99)},
        "delivered_status_ms": {"p50": pct(status_lat, 50), "p99": pct(status_lat, 99)},
        "lost": lost,
        "duplicated": duplicated,
        "draft_updates_per_s": run.draft_updates / run.draft_seconds if run.draft_seconds else 0,
        "cpu_seconds": run.cpu,
        "wall_seconds": run.wall,
        "bot_cpu_ms_per_tip": run.cpu.get("bot", 0) * 1000 / max(len(run.submitted), 1),
        "load_average": os.getloadavg(),
    }


def print_summary(s: dict[str, Any], args: argparse.Namespace) -> None:
    n = s["notify_ms"]
    print(f"\n== {s['backend']}: {s['submitted']} tips submitted in {args.duration:g} s "
          f"(asked {args.rate:g}/s, achieved {s['achieved_rate']:.1f}/s), "
          f"submit errors {s['submit_errors']}")
    print(f"   submit → officer notification: p50 {n['p50']:.1f} ms · p90 {n['p90']:.1f} ms · "
          f"p99 {n['p99']:.1f} ms · max {n['max']:.1f} ms · mean {n['mean']:.1f} ms")
    print(f"   submit → resident's reply:     p50 {s['reply_ms']['p50']:.1f} ms · "
          f"p99 {s['reply_ms']['p99']:.1f} ms")
    print(f"   submit → 'received by officer' status: p50 "
          f"{s['delivered_status_ms']['p50']:.1f} ms · "
          f"p99 {s['delivered_status_ms']['p99']:.1f} ms")
    print(f"   lost notifications {s['lost']} · duplicated {s['duplicated']} · "
          f"drafting (not timed) {s['draft_updates_per_s']:.0f} updates/s")
    cpu = ", ".join(f"{k} {v:.1f} s" for k, v in s["cpu_seconds"].items())
    print(f"   CPU while measured ({s['wall_seconds']:.1f} s wall): {cpu}; bot "
          f"{s['bot_cpu_ms_per_tip']:.1f} ms/tip; load average "
          f"{' '.join(f'{x:.1f}' for x in s['load_average'])}", flush=True)


# --- one backend -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(backend: str, folder: Path) -> Any:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'data' / 'binhyen.db'}"
        return
    import asyncpg

    name = f"binhyen_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    count = int(args.rate * args.duration)
    run = Run(backend)
    with tempfile.TemporaryDirectory(prefix="binhyen-bench-") as tmp:
        folder = Path(tmp)
        async with database(backend, folder) as db_url:
            run.residents = await seed(db_url, count)
            fake, api, control, reader = await start_fake(run)
            bot: asyncio.subprocess.Process | None = None
            try:
                port = free_port()
                # Drafting (not timed) runs with a high global cap so it takes minutes, not
                # a quarter of an hour; the measured phase runs with the asked one.
                key = generate_key()
                drafting = write_config(folder, db_url, api, port, DRAFT_GLOBAL_RATE, key)
                bot = await start_bot(drafting, port)
                timeout = aiohttp.ClientTimeout(total=60)
                connector = aiohttp.TCPConnector(limit=0)
                async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                    driver = Driver(http, control)
                    print(f"[{backend}] drafting {count} tips up to the review screen …",
                          flush=True)
                    await draft_all(run, driver, args.draft_concurrency)
                    # Drafts live in the database: a fresh bot process with the measured
                    # settings (and the profiler, if asked) takes over.
                    await stop(bot)
                    measured = write_config(folder, db_url, api, port, args.global_rate, key)
                    bot = await start_bot(measured, port, args.profile)
                    await asyncio.sleep(3.5)  # every chat's send budget refills
                    run.sent.clear()
                    print(f"[{backend}] submitting {args.rate:g}/s for {args.duration:g} s …",
                          flush=True)
                    procs = {"bot": bot.pid, "fake": fake.pid, "driver": os.getpid()}
                    cpu0 = {k: cpu_seconds(v) for k, v in procs.items()}
                    wall0 = time.perf_counter()
                    await submit_all(run, driver, args.rate, count)
                    await wait_drained(run, control, http, args.drain)
                    run.wall = time.perf_counter() - wall0
                    run.cpu = {k: cpu_seconds(v) - cpu0[k] for k, v in procs.items()}
            finally:
                if bot is not None:
                    await stop(bot)
                await stop(fake)
                reader.cancel()
                log = folder / "bot.log"
                if log.exists():  # kept for a look at what went wrong, if anything did
                    keep = Path(tempfile.gettempdir()) / f"bench-tips-{backend}-bot.log"
                    keep.write_bytes(log.read_bytes())
    summary = summarise(run)
    print_summary(summary, args)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--rate", type=float, default=20.0, help="tips per second (default 20)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--global-rate", type=float, default=None,
                        help="the bot's [limits] global_per_second (default: the bot's own)")
    parser.add_argument("--draft-concurrency", type=int, default=128,
                        help="residents drafting at once before the measured phase")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to wait for the last notifications")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--profile", type=Path,
                        help="run the bot under cProfile and write its stats here")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [asyncio.run(run_backend(b, args)) for b in backends]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), "utf-8")
    bad = [r for r in results if r["lost"] or r["duplicated"] or r["submit_errors"]]
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
