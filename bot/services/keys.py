"""Data-key rotation: re-encrypt every ID and passport number (and sealed visa numbers)
under the current key, and recompute their keyed hashes.

Run after putting the new key in ``[security] data_key`` and the old one in
``old_data_keys``. Each batch commits on its own, and rows already under the new key are
skipped, so the job can be interrupted (even killed) and simply run again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.services import audit, id_numbers
from bot.services.arrivals import ID_CONTEXT, VISA_CONTEXT, seal, unseal
from storage.crypto import FieldCipher
from storage.db import Database
from storage.tables import Guest


@dataclass
class Progress:
    rotated: int = 0
    remaining: int = 0


async def remaining(db: Database, cipher: FieldCipher) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Guest).where(
            Guest.key_id != cipher.key_id))).scalar_one())


def _rotate_guest(g: Guest, cipher: FieldCipher) -> None:
    plain = cipher.decrypt(g.id_cipher, ID_CONTEXT, g.key_id)
    g.id_cipher = cipher.encrypt(plain, ID_CONTEXT)
    g.id_hash = cipher.keyed_hash(id_numbers.hash_key(g.id_kind, plain))
    if g.visa and g.visa.get("number"):
        visa = dict(g.visa)
        visa["number"] = seal(cipher, unseal(cipher, visa["number"], VISA_CONTEXT),
                              VISA_CONTEXT)
        g.visa = visa
    g.key_id = cipher.key_id


async def rotate(db: Database, cipher: FieldCipher, now: Callable[[], datetime], *,
                 batch: int = 200, pause: float = 0.0,
                 report: Callable[[Progress], None] | None = None) -> Progress:
    """Re-encrypt until no row is left under an old key."""
    progress = Progress(remaining=await remaining(db, cipher))
    while True:
        async with db.uow() as s:
            rows = (await s.execute(select(Guest).where(Guest.key_id != cipher.key_id)
                                    .order_by(Guest.id).limit(batch)
                                    .with_for_update(skip_locked=True))).scalars().all()
            if not rows:
                audit.record(s, "keys.rotated", at=now(), actor_label="cli",
                             object_type="key", object_id=cipher.key_id,
                             rows=progress.rotated)
                break
            for g in rows:
                _rotate_guest(g, cipher)
        progress.rotated += len(rows)
        progress.remaining = max(progress.remaining - len(rows), 0)
        if report is not None:
            report(progress)
        if pause:
            await asyncio.sleep(pause)
    return progress
