"""Keys of the read-only open API: one per client, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.tables import ApiKey

PREFIX = "byk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(db: AsyncSession, name: str, now: datetime, actor_label: str = "cli"
                 ) -> tuple[ApiKey, str]:
    """A new key for client ``name``; the plain key is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValueError("give the client a name of 1–80 characters")
    prefix = secrets.token_hex(4)
    plain = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_hash(plain), created_at=now)
    db.add(key)
    await db.flush()
    audit.record(db, "apikey.create", at=now, actor_label=actor_label, object_type="apikey",
                 object_id=prefix, name=name)
    return key, plain


async def list_keys(db: AsyncSession) -> list[ApiKey]:
    return list((await db.execute(select(ApiKey).order_by(ApiKey.id))).scalars())


async def revoke(db: AsyncSession, ref: str, now: datetime, actor_label: str = "cli"
                 ) -> ApiKey | None:
    """Revoke by id or prefix; None when no such key."""
    ref = ref.strip().removeprefix(PREFIX)
    stmt = select(ApiKey).where(ApiKey.id == int(ref)) if ref.isdigit() and len(ref) < 8 \
        else select(ApiKey).where(ApiKey.prefix == ref.split("_")[0])
    key = (await db.execute(stmt)).scalar_one_or_none()
    if key is None:
        return None
    if key.revoked_at is None:
        key.revoked_at = now
        audit.record(db, "apikey.revoke", at=now, actor_label=actor_label,
                     object_type="apikey", object_id=key.prefix)
    return key


async def authenticate(db: AsyncSession, plain: str, now: datetime) -> ApiKey | None:
    """The active key behind ``plain``; notes when it was last used (minute precision)."""
    if not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    key = (await db.execute(select(ApiKey).where(ApiKey.key_hash == _hash(plain))
                            )).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return key
