"""``kill -9`` in the middle of a broadcast: a real worker process (tests/support/
broadcast_runner.py) sends a notice to 300 residents through the fake Telegram server with
its flood limits on; it is killed with SIGKILL part-way, started again, and finishes.

Every resident gets the notice. The only repeats are the messages the server had taken
but the dead worker had not yet recorded as sent — counted at the kill, and bounded by
what a worker sends between two result flushes plus its requests in flight (a few at
these rates; never more than one claimed batch).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from broadcasts import compose
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.tables import Area, Delivery, Identity, Person
from tests.fakes.telegram_api import FakeTelegram

N = 300
RATE = 100  # messages a second (config and fake alike)
TOKEN = "123456:KILL-test"
ROOT = Path(__file__).resolve().parents[2]


async def seed(url: str) -> None:
    db = Database(make_engine(url))
    await db.upgrade()
    now = datetime.now(UTC)
    async with db.uow() as s:
        s.add(Area(id=1, code="20242", level="commune", name="Hải Châu", type="Phường", key="hc"))
        await s.flush()
        await s.execute(insert(Person), [{"id": 10_000 + i, "home_area_id": 1, "consent": True,
                                          "language": "vi"} for i in range(N)])
        await s.execute(insert(Identity), [{"person_id": 10_000 + i, "channel": "telegram",
                                            "user_id": str(20_000 + i),
                                            "chat_id": str(20_000 + i)} for i in range(N)])
        draft = compose.Draft(template="scams", areas=[1], groups=False, urgent=True)
        from bot.config import build_config
        config = build_config({"security": {"data_key": generate_key()}}, environ={})
        await compose.create(s, draft, author_id=None, roles=[("admin", 1)], config=config,
                             now=now, actor_label="test")
    await db.close()


async def db_counts(url: str) -> dict[str, int]:
    db = Database(make_engine(url))
    try:
        async with db.read() as s:
            rows = (await s.execute(select(Delivery.state, func.count()).where(
                Delivery.kind == "broadcast").group_by(Delivery.state))).all()
        return {k: int(n) for k, n in rows}
    finally:
        await db.close()


async def start_runner(config: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.broadcast_runner", str(config), "--lease", "1.5",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"READY", line
    return proc


async def test_kill_9_mid_broadcast_resumes_and_repeats_only_what_was_in_flight(
        tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    await seed(url)
    async with FakeTelegram(token=TOKEN, flood_control=True, global_per_sec=RATE) as tg:
        config = tmp_path / "config.toml"
        config.write_text(f'[database]\nurl = "{url}"\n[security]\ndata_key = "{generate_key()}"\n'
                          f'[telegram]\ntoken = "{TOKEN}"\napi_url = "{tg.base_url}"\n'
                          f'file_url = "{tg.base_file_url}"\n[bot]\ndata_dir = "{tmp_path}"\n'
                          f"[limits]\nglobal_per_second = {RATE}\n", "utf-8")

        def sent() -> Counter[int]:
            return Counter(s.chat_id for s in tg.sent if s.method == "sendMessage")

        proc = await start_runner(config)
        await tg.wait_for(lambda: sum(sent().values()) >= N * 2 // 5, timeout=30)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        await asyncio.sleep(0.3)  # requests the server had already taken are answered
        at_kill = sum(sent().values())
        states = await db_counts(url)
        unrecorded = at_kill - states.get("sent", 0)
        assert 0 < at_kill < N and states.get("claimed", 0) > 0

        proc = await start_runner(config)
        try:
            await tg.wait_for(lambda: len(sent()) == N, timeout=60)
            for _ in range(50):  # until every row is recorded
                if (await db_counts(url)) == {"sent": N}:
                    break
                await asyncio.sleep(0.2)
        finally:
            proc.kill()
            await proc.wait()
        counts = sent()
        duplicates = sum(n - 1 for n in counts.values())
        print(f"\nkill -9 at {at_kill}/{N} sent; {unrecorded} sent but unrecorded; "
              f"{duplicates} duplicates; {tg.count_429} answers 429")
        assert set(counts) == {20_000 + i for i in range(N)}
        assert await db_counts(url) == {"sent": N}
        assert duplicates == unrecorded  # exactly the messages in flight at the kill
        # Bound: a flush interval's sends plus requests in flight, well under a batch.
        assert duplicates <= RATE * 0.2 + 10
