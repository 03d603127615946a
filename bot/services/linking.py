"""Linking one person's accounts on several channels with a one-time code.

A registered person asks for a code on one channel; typed on another channel it joins
that account to the same person. Only a keyed hash of the code is stored, it works once
and for ten minutes. When both accounts already belong to different people, the newer
person is merged into the older one: every row that points at the newer person (accounts,
roles, reports, consents, queued messages…) is moved, then the empty person is removed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import UniqueConstraint, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Inbound
from bot.services import audit
from storage.crypto import FieldCipher
from storage.repos import people
from storage.tables import Base, Identity, LinkCode, Person

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1: read aloud or retyped safely
LENGTH = 8
VALID_FOR = timedelta(minutes=10)


class LinkError(Exception):
    """``reason`` is a catalogue key (link.invalid, link.expired, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _hash(cipher: FieldCipher, code: str) -> str:
    return cipher.keyed_hash("link-code:" + normalise(code))


async def new_code(db: AsyncSession, cipher: FieldCipher, person: Person, now: datetime) -> str:
    """A fresh code for ``person`` (their older unused codes stop working)."""
    await db.execute(delete(LinkCode).where(LinkCode.person_id == person.id,
                                            LinkCode.used_at.is_(None)))
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    db.add(LinkCode(code_hash=_hash(cipher, code), person_id=person.id,
                    expires_at=now + VALID_FOR))
    audit.record(db, "link.code", at=now, actor_id=person.id, object_type="person",
                 object_id=person.id)
    return code


async def redeem(db: AsyncSession, cipher: FieldCipher, code: str, ev: Inbound,
                 now: datetime) -> Person:
    """Join the account behind ``ev`` to the code's person; returns the person kept."""
    row = (await db.execute(select(LinkCode).where(
        LinkCode.code_hash == _hash(cipher, code)))).scalar_one_or_none()
    if row is None or row.used_at is not None:
        raise LinkError("link.invalid")
    if row.expires_at < now:
        raise LinkError("link.expired")
    owner = await db.get(Person, row.person_id)
    if owner is None or owner.erased_at is not None:
        raise LinkError("link.invalid")
    ident = await people.identity(db, ev.channel, ev.user_id)
    if ident is not None and ident.person_id == owner.id:
        raise LinkError("link.already")
    if any(i.channel == ev.channel for i in await people.identities_of(db, owner.id)):
        raise LinkError("link.same_channel")
    row.used_at = now
    if ident is None:
        db.add(Identity(person_id=owner.id, channel=ev.channel, user_id=ev.user_id,
                        chat_id=ev.chat_id, username=ev.username or None))
        keep, gone_id = owner, None
    else:
        current = await db.get(Person, ident.person_id)
        assert current is not None
        keep, gone = (owner, current) if owner.id < current.id else (current, owner)
        gone_id = gone.id
        await merge(db, keep, gone)
    await db.flush()
    audit.record(db, "person.link", at=now, actor_id=keep.id, object_type="person",
                 object_id=keep.id, channel=ev.channel, merged=gone_id)
    return keep


async def merge(db: AsyncSession, keep: Person, gone: Person) -> None:
    """Move everything of ``gone`` to ``keep`` (filling keep's empty profile fields)."""
    keep.phone = keep.phone or gone.phone
    keep.home_area_id = keep.home_area_id or gone.home_area_id
    keep.display_name = keep.display_name or gone.display_name
    keep.consent = keep.consent or gone.consent
    await db.flush()
    people_table = Person.__table__
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not people_table or table is people_table:
                continue
            col = fk.parent
            for uc in table.constraints:
                if isinstance(uc, UniqueConstraint) and col.name in uc.columns:
                    # keep's own row wins where both have one (e.g. the same subscription)
                    kept = table.alias("kept")
                    same = [kept.c[c.name] == c for c in uc.columns if c.name != col.name]
                    await db.execute(delete(table).where(col == gone.id, exists().where(
                        kept.c[col.name] == keep.id, *same)))
            await db.execute(update(table).where(col == gone.id).values({col.name: keep.id}))
    await db.delete(gone)
