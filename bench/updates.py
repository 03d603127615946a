"""Conversation updates through the whole stack, beside a bare python-telegram-bot echo bot.

Three processes on one machine: the fake Bot API (``tests.fakes.telegram_api``, flood
limits off), the server under test, and this load generator. The load generator POSTs
Telegram updates to the server's webhook (secret header included) and times each POST:
both servers answer only after their reply was sent to the fake, so the time is the
whole step — HTTP intake, parsing, (for Bình Yên) the conversation engine with its
SQLite transaction, and the sendMessage call.

Servers, each measured on the same fake in the same run:

* ``echo`` — a bare PTB 22 echo bot (default httpx transport), webhook route in aiohttp;
* ``echo-aiohttp`` — the same echo bot on our ``AiohttpRequest`` transport;
* ``binhyen`` — the whole app (``bot.app.create_app``, webhook mode, SQLite, dispatcher
  and scheduler running), its Vietnamese-and-English province catalogue loaded, and
  ``--users`` residents waiting at the onboarding step "which province do you live in?".
  Each measured update is a resident typing "da": the engine loads the conversation
  row, searches the provinces without accents, saves the row and sends a keyboard of the
  matches. The resident stays at that step, so every update is the same dialog step.

Bình Yên's send pacing is kept at its production per-chat limit (1 message/s, bursts of
three; there are enough residents that no chat reaches it) but the global limit is
raised from the free tier's 30/s (``limits.global_per_second``), otherwise the pacer,
not the stack, would be measured.

Run from the repository root::

    .venv/bin/python -m bench.updates
    .venv/bin/python -m bench.updates --users 1500 --updates 3000 --concurrency 1 8 32 \\
        --rate 100 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import itertools
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
FIRST_USER = 50_000_000
STEP_TEXT = "da"
SHORT = {"echo (bare PTB)": "echo", "echo (PTB + AiohttpRequest)": "echo-aiohttp",
         "Bình Yên (whole stack)": "binhyen"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": update_id, "date": 1_790_000_000, "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": "Dân", "language_code": "vi"},
        "chat": {"id": user_id, "type": "private", "first_name": "Dân"}}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": msg}


# --------------------------------------------------------------------------- servers


async def _listen(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def serve_echo(api: str, port: int, transport: str) -> None:
    """A bare PTB echo bot behind an aiohttp webhook route (the customwebhookbot shape)."""
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    builder = Application.builder().token(TOKEN).base_url(api).updater(None)
    if transport == "aiohttp":
        from bot.channels.transport import AiohttpRequest
        builder = builder.request(AiohttpRequest())
    ptb = builder.build()

    async def echo(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    ptb.add_handler(MessageHandler(filters.TEXT, echo))

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(HEADER, "")
        if not hmac.compare_digest(given.encode(), SECRET.encode()):
            return web.Response(status=401)
        await ptb.process_update(Update.de_json(await request.json(), ptb.bot))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram/webhook", webhook)
    async with ptb:
        await ptb.start()
        runner = await _listen(app, port)
        print("READY", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await ptb.stop()


async def serve_binhyen(api: str, file_api: str, port: int, workdir: Path, users: int) -> None:
    """The whole app, with ``users`` residents waiting at the province question."""
    from bot.app import RUNTIME, create_app
    from bot.config import build_config
    from bot.domain.messages import Inbound, Kind
    from bot.services import areas as areas_svc
    from handlers.context import step_tag
    from storage.crypto import generate_key
    from storage.db import Database, make_engine

    config = build_config({
        "bot": {"data_dir": str(workdir)},
        "security": {"data_key": generate_key()},
        "web": {"host": "127.0.0.1", "port": port},
        "telegram": {"token": TOKEN, "api_url": api, "file_url": file_api, "mode": "webhook",
                     "webhook_url": f"http://127.0.0.1:{port}/telegram/webhook",
                     "webhook_secret": SECRET},
        "limits": {"global_per_second": 100_000},
    }, environ={}, source=str(workdir / "config.toml"))
    db = Database(make_engine(config.database_url))
    await db.upgrade()
    async with db.uow() as s:
        await areas_svc.import_units(s)  # every province and commune of Vietnam
    await db.close()

    runner = await _listen(create_app(config), port)
    engine = runner.app[RUNTIME].engine

    async def prepare(user_id: int) -> None:
        def ev(kind: Kind, **kw: Any) -> Inbound:
            return Inbound(channel="telegram", chat_id=str(user_id), user_id=str(user_id),
                           kind=kind, display_name="Dân", language="vi", **kw)

        await engine.handle(ev(Kind.COMMAND, command="start", text="/start"))
        await engine.handle(ev(Kind.CHOICE, payload=f"{step_tag('start', 'consent')}.yes"))
        out = await engine.handle(ev(Kind.CHOICE,
                                     payload=f"{step_tag('start', 'language')}.vi"))
        assert "tỉnh/thành phố" in out.replies[-1].text, out

    ids = list(range(FIRST_USER, FIRST_USER + users))
    for i in range(0, len(ids), 50):
        await asyncio.gather(*(prepare(u) for u in ids[i:i + 50]))
    print("READY", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- load


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    load: str
    count: int
    seconds: float
    latencies: list[float]  # seconds
    errors: int
    cpu: float = 0.0  # CPU seconds the server used

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.count * 1000


class Load:
    """Updates for one server; each resident gets its turn in order (round robin)."""

    def __init__(self, session: aiohttp.ClientSession, name: str, port: int, pid: int,
                 users: int) -> None:
        self.session = session
        self.name = name
        self.pid = pid
        self.url = f"http://127.0.0.1:{port}/telegram/webhook"
        self.ids = itertools.count(1)
        self.next_user = itertools.cycle(range(FIRST_USER, FIRST_USER + users))

    async def post(self) -> bool:
        body = json.dumps(message_update(next(self.ids), next(self.next_user), STEP_TEXT))
        async with self.session.post(self.url, data=body, headers={
                HEADER: SECRET, "Content-Type": "application/json"}) as r:
            await r.read()
            return r.status == 200

    async def closed(self, updates: int, concurrency: int) -> Result:
        """``concurrency`` clients, each sending its next update when the last is answered."""
        todo = itertools.count()
        lat: list[float] = []
        errors = 0

        async def client() -> None:
            nonlocal errors
            while next(todo) < updates:
                started = time.perf_counter()
                errors += not await self.post()
                lat.append(time.perf_counter() - started)

        cpu, started = cpu_seconds(self.pid), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return Result(self.name, f"closed loop, {concurrency} in flight", updates,
                      time.perf_counter() - started, lat, errors, cpu_seconds(self.pid) - cpu)

    async def open(self, rate: float, seconds: float) -> Result:
        """Updates at a fixed rate whatever the answers; latency from the planned send time,
        so falling behind shows (no coordinated omission)."""
        total = int(rate * seconds)
        lat: list[float] = []
        errors = 0
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.05

        async def one(i: int) -> None:
            nonlocal errors
            planned = t0 + i / rate
            await asyncio.sleep(max(0.0, planned - loop.time()))
            errors += not await self.post()
            lat.append(loop.time() - planned)

        cpu, started = cpu_seconds(self.pid), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        return Result(self.name, f"open loop, {rate:g} updates/s", total,
                      time.perf_counter() - started, lat, errors, cpu_seconds(self.pid) - cpu)


# --------------------------------------------------------------------------- driver


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode().strip()
    if not line.startswith("READY"):
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{args}: did not start ({line!r})")
    return proc, line.removeprefix("READY").strip()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    await proc.wait()


SERVERS: list[tuple[str, list[str]]] = [
    ("echo (bare PTB)", ["--serve", "echo", "--transport", "httpx"]),
    ("echo (PTB + AiohttpRequest)", ["--serve", "echo", "--transport", "aiohttp"]),
    ("Bình Yên (whole stack)", ["--serve", "binhyen"]),
]


def median_result(runs: list[Result]) -> Result:
    """The run with the median throughput (its latencies are reported with it)."""
    ordered = sorted(runs, key=lambda r: r.rate)
    mid = ordered[len(ordered) // 2]
    return Result(mid.name, mid.load, mid.count, mid.seconds, mid.latencies,
                  sum(r.errors for r in runs), mid.cpu)


async def run(args: argparse.Namespace) -> list[Result]:
    """Start the fake and every server, then measure them in turn, ``--repeat`` times.

    Interleaving the servers (instead of measuring one after the other) spreads any
    background load on the machine evenly over them.
    """
    fake, api = await _start("-m", "tests.fakes.telegram_api", "--token", TOKEN)
    file_api = api.replace("/bot", "/file/bot", 1)
    servers = [s for s in SERVERS if not args.only or SHORT[s[0]] in args.only]
    procs: list[asyncio.subprocess.Process] = []
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="binhyen-bench-") as tmp:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                loads = []
                for name, extra in servers:
                    port = free_port()
                    proc, _ = await _start(
                        "-m", "bench.updates", *extra, "--api", api, "--file-api", file_api,
                        "--port", str(port), "--dir", tmp, "--users", str(args.users))
                    procs.append(proc)
                    loads.append(Load(http, name, port, proc.pid, args.users))
                for load in loads:
                    await load.closed(args.warmup, 8)
                plans: list[Callable[[Load], Awaitable[Result]]] = [
                    lambda load, c=c: load.closed(args.updates, c)  # type: ignore[misc]
                    for c in args.concurrency]
                plans.append(lambda load: load.open(args.rate, args.seconds))
                for plan in plans:
                    runs: dict[str, list[Result]] = {load.name: [] for load in loads}
                    for i in range(args.repeat):
                        turn = loads[i % len(loads):] + loads[:i % len(loads)]
                        for load in turn:
                            runs[load.name].append(await plan(load))
                    for load in loads:
                        r = median_result(runs[load.name])
                        results.append(r)
                        print(_row(r), flush=True)
    finally:
        for proc in procs:
            await _stop(proc)
        await _stop(fake)
    return results


def _row(r: Result) -> str:
    return (f"| {r.name} | {r.load} | {r.rate:,.0f} | {r.pct(0.50):.1f} | {r.pct(0.99):.1f} | "
            f"{max(r.latencies) * 1000:.1f} | {r.cpu_ms:.2f} | {r.errors} |")


def summary(results: list[Result], concurrency: list[int]) -> None:
    def get(prefix: str, load: str) -> Result:
        return next(r for r in results if r.name.startswith(prefix) and r.load == load)

    def best(prefix: str) -> Result:
        return max((r for r in results if r.name.startswith(prefix)
                    and r.load.startswith("closed")), key=lambda r: r.rate)

    echo, ours, aio = best("echo (bare"), best("Bình Yên"), best("echo (PTB +")
    print()
    print(f"Best throughput: Bình Yên {ours.rate:,.0f}/s ({ours.load}); bare PTB echo "
          f"{echo.rate:,.0f}/s ({echo.load}): {ours.rate / echo.rate:.0%} of the bare echo "
          f"(target >= 50%). Echo on AiohttpRequest: {aio.rate:,.0f}/s "
          f"({ours.rate / aio.rate:.0%}).")
    for c in concurrency:
        load = f"closed loop, {c} in flight"
        e, o = get("echo (bare", load), get("Bình Yên", load)
        print(f"  {c:>3} in flight: {o.rate / e.rate:.0%} of the bare echo; CPU per update "
              f"{o.cpu_ms:.2f} ms vs {e.cpu_ms:.2f} ms")
    fixed = next(r for r in results if r.name.startswith("Bình") and r.load.startswith("open"))
    print(f"Bình Yên at {fixed.load.split(', ')[1]}: p50 {fixed.pct(0.5):.1f} ms, p99 "
          f"{fixed.pct(0.99):.1f} ms (target < 50 ms), achieved {fixed.rate:.0f}/s, "
          f"{fixed.errors} errors")


def main() -> None:
    """Run the comparison (or, with --serve, be one of the servers)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1500,
                        help="residents at the province step (spread so no chat is paced)")
    parser.add_argument("--updates", type=int, default=1000, help="updates per closed-loop run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per server and load (the median is reported)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop updates/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--only", nargs="+", choices=sorted(SHORT.values()),
                        help="measure only these servers (the summary needs all three)")
    parser.add_argument("--serve", choices=["echo", "binhyen"], help=argparse.SUPPRESS)
    parser.add_argument("--transport", default="httpx", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--file-api", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    serve: Callable[[], Coroutine[Any, Any, None]] | None = None
    if args.serve == "echo":
        serve = lambda: serve_echo(args.api, args.port, args.transport)  # noqa: E731
    elif args.serve == "binhyen":
        workdir = Path(tempfile.mkdtemp(dir=args.dir, prefix="binhyen-"))
        serve = lambda: serve_binhyen(args.api, args.file_api, args.port, workdir,  # noqa: E731
                                      args.users)
    if serve is not None:
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(serve())
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; {args.users} residents; {args.updates} updates per "
          f"closed-loop run, {args.seconds:g} s open loop; median of {args.repeat}")
    print("| server | load | updates/s | p50 ms | p99 ms | max ms | server CPU ms/update "
          "| errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    results = asyncio.run(run(args))
    if not args.only:
        summary(results, args.concurrency)


if __name__ == "__main__":
    main()
