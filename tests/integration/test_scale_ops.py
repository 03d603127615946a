"""Operating several processes: ``/readyz`` fails while the database schema is not the one
the code needs and passes again after ``binhyen db upgrade``; ``/metrics`` on a web
process shows the shared queue draining while two workers send."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.support.databases import fresh_pg_database, require_pg
from tests.support.fake_telegram_process import FakeProcess
from tests.support.processes import (
    ROOT,
    TOKEN,
    close_all,
    delivery_states,
    enqueue_burst,
    metric,
    migrated,
    start_all,
    write_config,
)

pytestmark = pytest.mark.postgres


async def test_readyz_fails_on_an_outdated_schema_until_db_upgrade(tmp_path: Path) -> None:
    require_pg()
    async with fresh_pg_database() as url, FakeProcess(TOKEN) as tg:
        await migrated(url)
        config = write_config(tmp_path, url, tg.api)
        (web,) = procs = await start_all(config, ("web",))
        try:
            assert (await web.get("/readyz"))[0] == 200
            # The database is restored from a dump taken before any migration.
            conn = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            finally:
                await conn.close()
            status, body = await web.get("/readyz")
            assert status == 503
            assert "binhyen db upgrade" in json.loads(body)["checks"]["database"]
            assert (await web.get("/healthz"))[0] == 200  # alive, just not ready

            upgrade = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(config), "db", "upgrade",
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=asyncio.subprocess.PIPE)
            out, _ = await upgrade.communicate()
            assert upgrade.returncode == 0 and b"schema upgraded: empty" in out
            status, body = await web.get("/readyz")
            assert status == 200, body
        finally:
            await close_all(procs)


async def test_metrics_show_the_queue_draining(tmp_path: Path) -> None:
    require_pg()
    async with fresh_pg_database() as url, FakeProcess(TOKEN) as tg:
        await migrated(url)
        config = write_config(tmp_path, url, tg.api, limits={"global_per_second": 80})
        web, *workers = procs = await start_all(config, ("web",), ("worker",), ("worker",))
        try:
            n = await enqueue_burst(url, {400_000 + i: 1 for i in range(320)}, "m")
            depth: list[float] = []
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                _, text = await web.get("/metrics")
                depth.append(metric(text, "binhyen_queue_depth"))
                if depth[-1] == 0 and (await delivery_states(url, "m")) == {"sent": n}:
                    break
                await asyncio.sleep(0.5)
            sharing = [metric((await w.get("/metrics"))[1], "binhyen_workers_sharing")
                       for w in workers]
        finally:
            await close_all(procs)
        print(f"\nqueue depth every 0.5 s: {[int(d) for d in depth]}")
        assert depth[0] >= n // 2 and depth[-1] == 0
        assert all(b <= a for a, b in itertools.pairwise(depth))  # only drains
        assert len([d for d in depth if 0 < d < depth[0]]) >= 3  # seen on its way down
        assert sharing == [2, 2]
