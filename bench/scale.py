"""Scale-out on PostgreSQL: several delivery workers sharing one bot's paid limit, and a
synthetic city of 1,000,000 residents.

``send``: a 100,000-recipient broadcast at the paid limit (1,000 messages a second) sent
by 1, 2 and 4 real worker processes (``python -m bot run --role worker``) against the fake
Telegram server in its own process (``bench.broadcast_fake``, flood control on). Each run
has a fresh database; the clock starts when the fan-out commits. Reported: sustained rate
(the fake's count between 10 % and 100 % of the sends), 429 answers, duplicates (chats the
fake saw twice), seconds until every row was recorded, the rows and CPU seconds of each
worker, the CPU of the fake and of the database's backends, and how busy the machine was.

``city``: 1,000,000 residents in the communes and villages of two provinces (Đà Nẵng and
Huế), one ward of 50,000, generated with ``INSERT … SELECT generate_series``; then the
database size, the audience of that ward (the preview's count, and the fan-out of a notice
to it) with the peak memory of the process that resolves it, and tip routing latency
(``routing.resolve`` alone, and the submit path: ``cases.create`` + ``route_and_notify``
in one committed transaction). Each measuring step runs in a process of its own.

Run from the repository root (PostgreSQL at BINHYEN_TEST_PG, default 127.0.0.1:5432)::

    .venv/bin/python -m bench.scale                          # both (~15 min)
    .venv/bin/python -m bench.scale send --workers 1 2 4 --recipients 100000
    .venv/bin/python -m bench.scale city --residents 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, text

from bot.config import build_config
from bot.services import areas as areas_svc
from bot.services import categories
from broadcasts import audience, compose, occurrences
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import Area, Category, Delivery, Person, RoutingRule

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123:ABC"
PROVINCES = ("48", "46")  # Đà Nẵng (94 communes), Huế (40)
WARD = "20242"  # Phường Hải Châu, Đà Nẵng: the 50,000-person ward
VILLAGES = 12  # street groups per commune
KEY = generate_key()


def config_for(url: str) -> Any:
    return build_config({"database": {"url": url}, "security": {"data_key": KEY},
                         "bot": {"data_dir": tempfile.gettempdir()}}, environ={})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(db_name: str) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends serving ``db_name``."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if cmd.startswith("postgres:") and f" {db_name} " in cmd:
                out[int(entry.name)] = cpu_of(int(entry.name))
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --------------------------------------------------------------------------- the city

async def build_city(url: str, residents: int, ward_size: int) -> dict[str, Any]:
    """Areas, villages, residents with a Telegram account (a tenth also on Zalo), two
    officers and a default routing rule per commune; returns timings and counts.

    2 % of the residents gave no consent, 4 % opted out of routine notices and 1 % blocked
    the bot on Telegram — except with no ward (the send runs): everyone is reachable, so
    a notice to everyone has exactly ``residents`` recipients."""
    plain = ward_size == 0
    db = Database(make_engine(url))
    timings: dict[str, float] = {}
    try:
        await db.upgrade()
        t = time.perf_counter()
        async with db.uow() as s:
            for code in PROVINCES:
                await areas_svc.import_units(s, code)
            await categories.ensure_defaults(s)
            await s.execute(text(
                "INSERT INTO areas (code, parent_id, level, name, type, key, created_at) "
                "SELECT c.code || '-' || v, c.id, 'village', 'Tổ dân phố ' || v, "
                "'Tổ dân phố', 'to dan pho ' || v, now() "
                "FROM areas c, generate_series(1, :per) v WHERE c.level = 'commune'"),
                {"per": VILLAGES})
        timings["areas_s"] = time.perf_counter() - t
        t = time.perf_counter()
        async with db.uow() as s:
            ward = (await s.execute(select(Area.id).where(Area.code == WARD))).scalar_one()
            await s.execute(text(
                "WITH v AS (SELECT array_agg(id ORDER BY id) AS ids FROM areas "
                "           WHERE level = 'village' AND parent_id <> :ward), "
                "     w AS (SELECT array_agg(id ORDER BY id) AS ids FROM areas "
                "           WHERE level = 'village' AND parent_id = :ward) "
                "INSERT INTO people (id, display_name, phone, language, home_area_id, consent, "
                "  broadcasts_opt_out, false_report_note_shown, created_at) "
                "SELECT g, 'Cư dân ' || g, '+849' || lpad(g::text, 8, '0'), "
                "  CASE WHEN g % 20 = 0 THEN 'en' ELSE 'vi' END, "
                "  CASE WHEN g <= :ward_n THEN w.ids[1 + g % cardinality(w.ids)] "
                "       ELSE v.ids[1 + g % cardinality(v.ids)] END, "
                "  :plain OR g % 50 <> 0, NOT :plain AND g % 25 = 0, false, now() "
                "FROM generate_series(1, :n) g, v, w"),
                {"ward": ward, "ward_n": ward_size, "n": residents, "plain": plain})
        timings["people_s"] = time.perf_counter() - t
        t = time.perf_counter()
        async with db.uow() as s:
            await s.execute(text(
                "INSERT INTO identities (person_id, channel, user_id, chat_id, reachable, "
                "  created_at) "
                "SELECT g, 'telegram', (5000000000 + g)::text, (5000000000 + g)::text, "
                "  :plain OR g % 100 <> 0, now() FROM generate_series(1, :n) g "
                "UNION ALL "
                "SELECT g, 'zalo', md5(g::text), md5(g::text), true, now() "
                "FROM generate_series(1, :n, 10) g"), {"n": residents, "plain": plain})
            for table in ("people", "identities", "areas"):
                await s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
        timings["identities_s"] = time.perf_counter() - t
        t = time.perf_counter()
        async with db.uow() as s:
            communes = (await s.execute(select(Area).where(Area.level == "commune"))
                        ).scalars().all()
            for i, c in enumerate(communes):
                staff = []
                for k in range(2):
                    uid = str(9_000_000 + 2 * i + k)
                    officer = await people.add_person(s, channel="telegram", user_id=uid,
                                                      chat_id=uid, language="vi",
                                                      display_name=f"Cán bộ {c.name} {k + 1}")
                    officer.consent = True
                    await people.grant(s, officer.id, "officer", c.id)
                    staff.append(officer.id)
                s.add(RoutingRule(area_id=c.id, category_code=None, officer_id=staff[0],
                                  backup_id=staff[1]))
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        timings["staff_vacuum_s"] = time.perf_counter() - t
        async with db.read() as s:
            counts = {t: (await s.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                      for t in ("areas", "people", "identities", "role_grants")}
            size = (await s.execute(text("SELECT pg_database_size(current_database())"))
                    ).scalar_one()
            rel = {t: (await s.execute(text(f"SELECT pg_total_relation_size('{t}')"))
                       ).scalar_one() // 2**20 for t in ("people", "identities", "areas")}
        return {**{k: round(v, 1) for k, v in timings.items()}, **counts,
                "database_mb": size // 2**20, "table_mb": rel, "ward_id": ward}
    finally:
        await db.close()


async def resolve_ward(url: str, ward_id: int) -> dict[str, Any]:
    """The ward's audience: the preview's count, then the fan-out of a notice to it."""
    before = peak_mb()
    config = config_for(url)
    db = Database(make_engine(url))
    try:
        aud = audience.Audience((ward_id,), ("residents",), groups=False)
        t = time.perf_counter()
        async with db.read() as s:
            reached, _ = await audience.count(s, aud, "general", urgent=False)
        count_s = time.perf_counter() - t
        async with db.uow() as s:
            province = (await s.execute(select(Area.parent_id).where(Area.id == ward_id))
                        ).scalar_one()
            draft = compose.Draft(template="scams", areas=[ward_id], groups=False)
            await compose.create(s, draft, author_id=None, roles=[("admin", province)],
                                 config=config, now=datetime.now(UTC), actor_label="bench")
        # A routine notice would wait for the end of quiet hours; the fan-out is the same.
        t = time.perf_counter()
        started = await occurrences.run_due(db.uow, config, datetime.now(UTC))
        fanout_s = time.perf_counter() - t
        async with db.read() as s:
            rows = (await s.execute(select(func.count()).select_from(Delivery))).scalar_one()
    finally:
        await db.close()
    return {"reached": reached, "count_s": round(count_s, 2), "started": started,
            "rows": rows, "fanout_s": round(fanout_s, 2), "rss_before_mb": round(before),
            "peak_mb": round(peak_mb())}


async def route_tips(url: str, lookups: int, submits: int) -> dict[str, Any]:
    """Latency of routing.resolve, and of a tip's whole submit transaction."""
    from bot.domain.messages import Inbound, Kind
    from bot.services import cases, routing, tips

    db = Database(make_engine(url))
    rng = random.Random(48)
    try:
        async with db.read() as s:
            villages = list((await s.execute(select(Area.id).where(Area.level == "village"))
                             ).scalars())
            cats = list((await s.execute(select(Category).where(Category.area_id.is_(None)))
                         ).scalars())
            last = (await s.execute(select(func.max(Person.id)).where(
                Person.display_name.like("Cư dân %")))).scalar_one()
        resolve_ms = []
        for _ in range(lookups):
            vid, cat = rng.choice(villages), rng.choice(cats)
            t = time.perf_counter()
            async with db.read() as s:
                area = await areas.by_id(s, vid)
                assert area is not None
                target = await routing.resolve(s, area, cat.code)
            resolve_ms.append((time.perf_counter() - t) * 1000)
            assert target.officer_id is not None
        submit_ms = []
        for i in range(submits):
            vid, cat, who = rng.choice(villages), rng.choice(cats), rng.randint(1, last)
            ev = Inbound(channel="telegram", chat_id=str(5_000_000_000 + who),
                         user_id=str(5_000_000_000 + who), kind=Kind.CHOICE)
            now = datetime.now(UTC)
            t = time.perf_counter()
            async with db.uow() as s:
                case = await cases.create(s, kind="tip", category=cat, area_id=vid,
                                          description=f"Tin thử số {i}: xe lạ đỗ trước nhà",
                                          place=None, latitude=None, longitude=None,
                                          occurred="now", anonymous=True, reporter_id=who,
                                          ev=ev, photos=[], now=now)
                await tips.route_and_notify(s, case, now)
            submit_ms.append((time.perf_counter() - t) * 1000)
    finally:
        await db.close()

    def pct(xs: list[float], q: float) -> float:
        return round(statistics.quantiles(xs, n=100)[int(q) - 1], 1)

    return {"resolve_ms": {"p50": pct(resolve_ms, 50), "p99": pct(resolve_ms, 99),
                           "n": lookups},
            "submit_ms": {"p50": pct(submit_ms, 50), "p99": pct(submit_ms, 99),
                          "n": submits}}


# --------------------------------------------------------------------------- sending

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_worker(config: Path, folder: Path) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    env["BINHYEN_WEB__PORT"] = str(port)
    with (folder / f"worker-{port}.log").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config), "run", "--role", "worker",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
    return proc, port


async def sharing(http: aiohttp.ClientSession, port: int) -> float:
    with contextlib.suppress(aiohttp.ClientError):
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            for line in (await r.text()).splitlines():
                if line.startswith("binhyen_workers_sharing "):
                    return float(line.split()[1])
    return -1.0


async def recorded(db: Database) -> dict[str, int]:
    async with db.read() as s:
        rows = (await s.execute(select(Delivery.state, func.count())
                                .group_by(Delivery.state))).all()
    return {k: int(v) for k, v in rows}


async def run_send(workers: int, recipients: int, folder: Path) -> dict[str, Any]:
    from tests.support.databases import fresh_pg_database

    async with fresh_pg_database() as url:
        await child("_city", url, str(recipients), "0")
        db_name = url.rsplit("/", 1)[1]
        config = folder / f"config-{workers}.toml"
        config.write_text(
            f'[database]\nurl = "{url}"\n[security]\ndata_key = "{KEY}"\n'
            f'[bot]\ndata_dir = "{folder}"\n[logging]\nlevel = "WARNING"\n'
            '[limits]\nglobal_per_second = 1000\npaid_broadcast = true\n'
            f'[telegram]\ntoken = "{TOKEN}"\napi_url = "API"\nfile_url = "API"\n', "utf-8")
        fake = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.broadcast_fake", "--global-per-sec", "30",
            "--paid-per-sec", "1000", cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        assert fake.stdout is not None
        api = (await fake.stdout.readline()).decode().split()[1]
        config.write_text(config.read_text("utf-8").replace('"API"', f'"{api}"'), "utf-8")
        stats: list[tuple[float, int, int, int]] = []

        async def read() -> None:
            assert fake.stdout is not None
            async for line in fake.stdout:
                parts = line.decode().split()
                if parts and parts[0] == "STAT":
                    stats.append((float(parts[1]), int(parts[2]), int(parts[3]),
                                  int(parts[4])))

        reader = asyncio.create_task(read())
        procs = [await start_worker(config, folder) for _ in range(workers)]
        db = Database(make_engine(url))
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(600):
                    if all([await sharing(http, port) == workers for _, port in procs]):
                        break
                    await asyncio.sleep(0.2)
                else:
                    raise RuntimeError("workers did not come up")
            await asyncio.sleep(2 * 2.0 + 3.0 + 1)  # bot.workers: settled (default beat 2 s)
            load = os.getloadavg()[0]
            cpu0 = {p.pid: cpu_of(p.pid) for p, _ in procs}
            fake0, pg0, busy0 = cpu_of(fake.pid), backends(db_name), machine_busy()
            t0 = time.monotonic()
            fanout = await child("_fanout", url)
            while True:
                await asyncio.sleep(0.5)
                done = await recorded(db)
                if done.get("sent", 0) >= fanout["rows"] or time.monotonic() - t0 > 900:
                    break
            took = time.time() - fanout["committed"]  # from the fan-out's commit
            ran = time.monotonic() - t0  # CPU figures cover this (child start included)
            cpu = [round(cpu_of(p.pid) - cpu0[p.pid], 1) for p, _ in procs]
            fake_cpu = cpu_of(fake.pid) - fake0
            pg1 = backends(db_name)
            pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
            busy1 = machine_busy()
            async with db.read() as s:
                per_worker = sorted(int(n) for (n,) in (await s.execute(
                    select(func.count()).select_from(Delivery)
                    .group_by(Delivery.claimed_by))).all())
        finally:
            await db.close()
            for p, _ in procs:
                if p.returncode is None:
                    p.send_signal(signal.SIGTERM)
            for p, _ in procs:
                await p.wait()
            await asyncio.sleep(0.6)
            fake.terminate()
            await fake.wait()
            await reader
    sent = stats[-1][1]
    moving = [x for x in stats if x[1] > 0]
    ta, na = next((t, c) for t, c, _, _ in moving if c >= sent * 0.1)
    tb, nb = next((t, c) for t, c, _, _ in moving if c >= sent)
    rate = (nb - na) / (tb - ta) if tb > ta else 0.0
    return {"workers": workers, "rows": fanout["rows"], "all_recorded_s": round(took, 1),
            "sent": sent, "rate": round(rate, 1), "answers_429": stats[-1][2],
            "duplicates": stats[-1][3], "rows_per_worker": per_worker,
            "worker_cpu_s": cpu, "worker_ms_per_msg": round(sum(cpu) / max(sent, 1) * 1000, 2),
            "fake_cpu_s": round(fake_cpu, 1), "postgres_cpu_s": round(pg_cpu, 1),
            "machine_busy_cores": round((busy1[0] - busy0[0]) / os.sysconf("SC_CLK_TCK") / ran,
                                        2),
            "loadavg_before": round(load, 1)}


async def fanout_all(url: str) -> dict[str, Any]:
    """An urgent notice to every resident of the two provinces (one INSERT … SELECT, the
    scheduler's code)."""
    config = config_for(url)
    db = Database(make_engine(url))
    try:
        async with db.uow() as s:
            provs = list((await s.execute(select(Area.id).where(Area.code.in_(PROVINCES)))
                          ).scalars())
            draft = compose.Draft(template="scams", areas=provs, groups=False, urgent=True)
            await compose.create(s, draft, author_id=None, roles=[("admin", p) for p in provs],
                                 config=config, now=datetime.now(UTC), actor_label="bench")
        await occurrences.run_due(db.uow, config, datetime.now(UTC))
        async with db.read() as s:
            rows = (await s.execute(select(func.count()).select_from(Delivery))).scalar_one()
    finally:
        await db.close()
    return {"rows": rows, "committed": time.time()}


# --------------------------------------------------------------------------- driver

async def child(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.scale", *args,
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"bench.scale {' '.join(args)} failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1] or "{}")
    return result


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    from tests.support.databases import fresh_pg_database

    async with fresh_pg_database() as url:
        yield url


async def run_city(residents: int, ward: int, lookups: int, submits: int) -> dict[str, Any]:
    async with fresh_database() as url:
        t = time.perf_counter()
        city = await child("_city", url, str(residents), str(ward))
        city["build_s"] = round(time.perf_counter() - t, 1)
        ward_result = await child("_ward", url, str(city["ward_id"]))
        routing = await child("_route", url, str(lookups), str(submits))
    return {"city": city, "ward": ward_result, "routing": routing}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        step, rest = sys.argv[1], sys.argv[2:]
        steps = {
            "_city": lambda: build_city(rest[0], int(rest[1]), int(rest[2])),
            "_ward": lambda: resolve_ward(rest[0], int(rest[1])),
            "_route": lambda: route_tips(rest[0], int(rest[1]), int(rest[2])),
            "_fanout": lambda: fanout_all(rest[0]),
        }
        print(json.dumps(asyncio.run(steps[step]())), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("what", nargs="?", choices=("all", "send", "city"), default="all")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--ward", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--submits", type=int, default=500)
    args = parser.parse_args()
    if args.what in ("all", "send"):
        with tempfile.TemporaryDirectory(prefix="binhyen-scale-") as tmp:
            for n in args.workers:
                result = asyncio.run(run_send(n, args.recipients, Path(tmp)))
                print(f"send {json.dumps(result)}", flush=True)
    if args.what in ("all", "city"):
        result = asyncio.run(run_city(args.residents, args.ward, args.lookups, args.submits))
        print(f"city {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()
