"""Key rotation re-encrypts every ID number under the new key; killed half-way with
SIGKILL it loses nothing, and running it again finishes the job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from bot.services import areas as areas_svc
from bot.services import id_numbers
from bot.services.arrivals import ID_CONTEXT, VISA_CONTEXT, seal, unseal
from storage.crypto import FieldCipher, generate_key
from storage.db import Database, make_engine
from storage.repos import areas
from storage.tables import Arrival, Guest

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def numbers(n: int) -> list[str]:
    return [f"001090{i:06d}" for i in range(n)]


async def seed(url: str, key: str, count: int) -> None:
    db = Database(make_engine(url))
    await db.upgrade()
    cipher = FieldCipher(key)
    async with db.uow() as s:
        await areas_svc.import_units(s, "48")
        area = await areas.by_code(s, "20242")
        assert area is not None
        arrival = Arrival(ref="LT-26-000001", area_id=area.id, address="1 Lê Lợi",
                          submitted_at=NOW, deadline_at=NOW)
        s.add(arrival)
        await s.flush()
        for i, number in enumerate(numbers(count)):
            visa = {"type": "DL", "number": seal(cipher, f"V{i:05d}", VISA_CONTEXT)}
            s.add(Guest(arrival_id=arrival.id, full_name=f"Khách {i}", nationality="VN",
                        id_kind="cccd", id_cipher=cipher.encrypt(number, ID_CONTEXT),
                        id_hash=cipher.keyed_hash(id_numbers.hash_key("cccd", number)),
                        id_last=number[-2:], id_mask=id_numbers.mask(number),
                        key_id=cipher.key_id, visa=visa, stay_from=date(2026, 11, 23)))
    await db.close()


async def check(url: str, cipher: FieldCipher) -> tuple[int, int]:
    """(rows under the current key, rows under the old key); every row must decrypt."""
    db = Database(make_engine(url))
    new = old = 0
    async with db.read() as s:
        guests = (await s.execute(select(Guest).order_by(Guest.id))).scalars().all()
        for i, g in enumerate(guests):
            plain = cipher.decrypt(g.id_cipher, ID_CONTEXT, g.key_id)
            assert plain == numbers(len(guests))[i]
            assert unseal(cipher, g.visa["number"], VISA_CONTEXT) == f"V{i:05d}"
            if g.key_id == cipher.key_id:
                new += 1
                assert g.id_hash == cipher.keyed_hash(id_numbers.hash_key("cccd", plain))
            else:
                old += 1
    await db.close()
    return new, old


def write_config(tmp_path: Path, url: str, current: str, old: list[str]) -> Path:
    path = tmp_path / "config.toml"
    olds = ", ".join(f'"{k}"' for k in old)
    path.write_text(f'[database]\nurl = "{url}"\n[bot]\ndata_dir = "{tmp_path}"\n'
                    f'[security]\ndata_key = "{current}"\nold_data_keys = [{olds}]\n')
    return path


def test_rotation_killed_half_way_then_resumed(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'rot.db'}"
    old_key, new_key = generate_key(), generate_key()
    asyncio.run(seed(url, old_key, 40))
    config = write_config(tmp_path, url, new_key, [old_key])
    cipher = FieldCipher(new_key, (old_key,))
    env = {**os.environ, "BINHYEN_ROTATE_PAUSE": "0.3"}
    cmd = [sys.executable, "-m", "bot", "--config", str(config), "keys", "rotate", "--batch", "5"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("rotated 10,"):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    new, old = asyncio.run(check(url, cipher))
    assert new >= 10 and old > 0 and new + old == 40

    status = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "keys",
                             "status"], cwd=ROOT, capture_output=True, text=True)
    assert status.returncode == 1 and f"{old} row(s)" in status.stdout

    done = subprocess.run(cmd[:-2], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"done: {old} row(s)" in done.stdout
    assert asyncio.run(check(url, cipher)) == (40, 0)
    # The old key is no longer needed: the new key alone reads everything.
    assert asyncio.run(check(url, FieldCipher(new_key))) == (40, 0)
