"""Signing staff in to the web console without passwords.

A staff member asks for a link in chat (``/web``) or an admin prints one on the command
line; the link carries a random token valid once for a few minutes, and only the token's
hash is stored. Redeeming it opens a server-side session (again only a hash in the
table), checked on every request: a person whose roles were all revoked loses access at
once, whatever their cookie says.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.repos import people
from storage.tables import ConsoleLink, ConsoleSession, Person


class SigninError(Exception):
    """``reason`` is one of: invalid, used, expired, not_staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/console/login?token={token}"


@dataclass(frozen=True)
class Signin:
    token: str  # goes into the cookie; only its hash is stored
    session: ConsoleSession


@dataclass(frozen=True)
class Viewer:
    """The signed-in staff member of one request."""

    session: ConsoleSession
    person: Person
    roles: list[tuple[str, int]]


async def _staff(db: AsyncSession, person_id: int) -> Person | None:
    person = await db.get(Person, person_id)
    if person is None or person.erased_at is not None:
        return None
    return person if await people.active_roles(db, person_id) else None


async def issue_link(db: AsyncSession, person_id: int, now: datetime, ttl: timedelta,
                     actor_label: str = "") -> str:
    """A one-time sign-in token for a staff member (raises ``SigninError('not_staff')``)."""
    if await _staff(db, person_id) is None:
        raise SigninError("not_staff")
    token = secrets.token_urlsafe(32)
    db.add(ConsoleLink(token_hash=token_hash(token), person_id=person_id, created_at=now,
                       expires_at=now + ttl))
    audit.record(db, "console.link", at=now, actor_id=None if actor_label else person_id,
                 actor_label=actor_label, object_type="person", object_id=person_id)
    return token


async def check_link(db: AsyncSession, token: str, now: datetime) -> tuple[ConsoleLink, Person]:
    """The link and its person if it can still be used; never marks it used."""
    link = (await db.execute(select(ConsoleLink).where(
        ConsoleLink.token_hash == token_hash(token)))).scalar_one_or_none()
    if link is None:
        raise SigninError("invalid")
    if link.used_at is not None:
        raise SigninError("used")
    if link.expires_at <= now:
        raise SigninError("expired")
    person = await _staff(db, link.person_id)
    if person is None:
        raise SigninError("not_staff")
    return link, person


async def redeem_link(db: AsyncSession, token: str, now: datetime, hours: float) -> Signin:
    """Use the link once (atomically: a second use fails) and open a session."""
    link, person = await check_link(db, token, now)
    done = await db.execute(update(ConsoleLink).where(
        ConsoleLink.id == link.id, ConsoleLink.used_at.is_(None)).values(used_at=now))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise SigninError("used")
    raw = secrets.token_urlsafe(32)
    session = ConsoleSession(token_hash=token_hash(raw), csrf=secrets.token_urlsafe(24),
                             person_id=person.id, language=person.language or "vi",
                             created_at=now, expires_at=now + timedelta(hours=hours),
                             last_seen_at=now)
    db.add(session)
    await db.flush()
    audit.record(db, "console.signin", at=now, actor_id=person.id, object_type="session",
                 object_id=session.id)
    return Signin(raw, session)


async def current(db: AsyncSession, token: str, now: datetime) -> Viewer | None:
    """The viewer behind a session cookie, or None (unknown, ended, expired, revoked)."""
    if not token:
        return None
    session = (await db.execute(select(ConsoleSession).where(
        ConsoleSession.token_hash == token_hash(token)))).scalar_one_or_none()
    if session is None or session.ended_at is not None or session.expires_at <= now:
        return None
    person = await db.get(Person, session.person_id)
    roles = await people.active_roles(db, session.person_id) if person else []
    if person is None or person.erased_at is not None or not roles:
        session.ended_at = now  # revoked staff: the session dies on its first use
        return None
    if session.last_seen_at is None or now - session.last_seen_at > timedelta(minutes=5):
        session.last_seen_at = now
    return Viewer(session, person, roles)


async def sign_out(db: AsyncSession, session: ConsoleSession, now: datetime) -> None:
    session.ended_at = now
    audit.record(db, "console.signout", at=now, actor_id=session.person_id,
                 object_type="session", object_id=session.id)


async def end_sessions(db: AsyncSession, person_id: int, now: datetime) -> int:
    """End every open session of a person (on revocation or erasure)."""
    done = await db.execute(update(ConsoleSession).where(
        ConsoleSession.person_id == person_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
