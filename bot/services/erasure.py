"""Erasing a person: what identifies them goes; what the law keeps stays, unlinked.

Tips stay with the police without any link to the reporter (the relay mapping is
destroyed and the officer is told the reporter can no longer be reached); submitted
declarations stay until their retention ends, with the host unlinked; everything else
personal — accounts, conversations, messages, consents, subscriptions, roles, sign-in
links and sessions, link codes, registered places, queued messages, copies of their data
— is deleted. Their name, phone and username are also blanked where they were written
into someone else's messages (an officer's notification of a named report, a reviewer's
copy of a notice they wrote), and links they left (invitations they used, notices they
wrote or approved, groups they linked, routing rules) keep no trace of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import String, cast, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from bot.i18n import t
from bot.services import audit, cases, notify, privacy_jobs
from storage.db import Database
from storage.dialect import rowcount
from storage.files import FileStore
from storage.tables import (
    Arrival,
    Attachment,
    AuditEntry,
    Broadcast,
    Case,
    CaseRelay,
    Consent,
    Conversation,
    Delivery,
    Identity,
    Invite,
    Person,
    Place,
    PrivacyRequest,
    Subscription,
    Timer,
    WebChatMessage,
)

log = logging.getLogger(__name__)
GONE = "—"
MIN_NEEDLE = 4  # shorter strings would blank unrelated text


async def withdraw(db: AsyncSession, person: Person, now: datetime) -> None:
    """Stop optional processing: broadcasts and topic subscriptions; record the withdrawal."""
    person.consent = False
    person.broadcasts_opt_out = True
    db.add(Consent(person_id=person.id, purpose="service", notice_version="withdrawn",
                   granted=False, at=now))
    await db.execute(delete(Subscription).where(Subscription.person_id == person.id))
    await db.execute(update(Delivery).where(Delivery.person_id == person.id,
                                            Delivery.state == "pending",
                                            Delivery.broadcast_id.is_not(None))
                     .values(state="cancelled"))


def phone_forms(phone: str) -> list[str]:
    """The ways a stored E.164 number can be written: +84912345678, 84912345678,
    0912345678, 091 234 56 78, +84 91 234 56 78, 0912 345 678."""
    forms = {phone, phone.lstrip("+")}
    try:
        num = phonenumbers.parse(phone, "VN")
    except phonenumbers.NumberParseException:
        return sorted(forms)
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms |= {national, national.replace(" ", ""),
              phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)}
    digits = national.replace(" ", "")
    if len(digits) == 10:
        forms.add(f"{digits[:4]} {digits[4:7]} {digits[7:]}")
    return sorted(forms)


def _longest_first(items: Iterable[str]) -> list[str]:
    # "+84912345678" is blanked before "84912345678" inside it.
    return sorted(set(items), key=len, reverse=True)


def needles(person: Person, idents: Iterable[Identity]) -> tuple[list[str], list[str]]:
    """(everything that identifies the person in free text: name, usernames, phone forms;
    the phone forms alone). A phone number is specific enough to blank anywhere; a name
    ("Minh") may be part of someone else's, so it is blanked only in messages about
    this person's own reports, declarations and notices."""
    phones = phone_forms(person.phone) if person.phone else []
    words = [person.display_name.strip()] if person.display_name and \
        len(person.display_name.strip()) >= MIN_NEEDLE else []
    words += [i.username for i in idents if i.username and len(i.username) >= MIN_NEEDLE]
    return _longest_first([*words, *phones]), _longest_first(phones)


def _scrub(value: Any, found: list[str]) -> Any:
    if isinstance(value, str):
        for n in found:
            value = value.replace(n, GONE)
        return value
    if isinstance(value, list):
        return [_scrub(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, found) for k, v in value.items()}
    return value


def _like(s: str) -> str:
    return "%" + s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _scrub_column(db: AsyncSession, model: Any, column: Any, found: list[str],
                        *where: Any) -> int:
    """Blank ``found`` inside a JSON column of other people's rows; returns rows changed."""
    if not found:
        return 0
    # JSON is stored with non-ASCII escaped (\u1ea7): look for both spellings.
    forms = {f for n in found for f in (n, json.dumps(n)[1:-1])}
    as_text = cast(column, String)
    match = or_(*[as_text.like(_like(f), escape="\\") for f in forms])
    rows = (await db.execute(select(model).where(match, *where))).scalars().all()
    changed = 0
    for row in rows:
        old = getattr(row, column.key)
        new = _scrub(old, found)
        if new != old:
            setattr(row, column.key, new)
            changed += 1
    return changed


async def erase(db: AsyncSession, person: Person, now: datetime, *,
                files: FileStore | None = None) -> dict[str, int]:
    """Erase ``person``; returns counts of what was removed or unlinked (no personal data).

    ``files``: the file store, so copies of their data still waiting there go too.
    """
    idents = (await db.execute(select(Identity).where(Identity.person_id == person.id))
              ).scalars().all()
    chats = [(i.channel, i.chat_id) for i in idents]
    found, phones = needles(person, idents)
    counts: dict[str, int] = {}
    # Messages to others about what this person did, which may name them.
    about: list[Any] = []
    reported = list((await db.execute(select(Case.id).where(Case.reporter_id == person.id))
                     ).scalars())
    if reported:
        about.append(Delivery.case_id.in_(reported))
    for aid in (await db.execute(select(Arrival.id).where(Arrival.host_id == person.id))
                ).scalars():
        about.append(Delivery.dedupe_key.like(f"arr:{aid}:%"))
    for bid in (await db.execute(select(Broadcast.id).where(Broadcast.author_id == person.id))
                ).scalars():
        about.append(Delivery.dedupe_key.like(f"bcreview:{bid}:%"))

    relays = (await db.execute(select(CaseRelay).where(or_(
        CaseRelay.person_id == person.id,
        *[(CaseRelay.channel == c) & (CaseRelay.chat_id == ch) for c, ch in chats]))
    )).scalars().all()
    for relay in relays:
        case = await db.get(Case, relay.case_id)
        if case is not None and case.status in cases.OPEN and case.assignee_id:
            lang = await notify.language_of(db, case.assignee_id)
            await notify.to_person(db, case.assignee_id,
                                   Reply(text=t(lang, "privacy.reporter_gone", ref=case.ref)),
                                   kind="case_status", key=f"case:{case.id}:gone", at=now,
                                   case_id=case.id)
        await db.delete(relay)
    counts["relays"] = len(relays)
    result = await db.execute(update(Case).where(Case.reporter_id == person.id)
                              .values(reporter_id=None, anonymous=True))
    counts["reports_unlinked"] = rowcount(result)
    await db.execute(update(Attachment).where(Attachment.owner_id == person.id)
                     .values(owner_id=None))

    # Copies of their data (the "copy" right) still in the file store, and their timers.
    mine = or_(Delivery.person_id == person.id,
               *[(Delivery.channel == c) & (Delivery.chat_id == ch) for c, ch in chats])
    copies = [p.get("document_sha") for p in (await db.execute(
        select(Delivery.payload).where(mine, Delivery.kind == "privacy"))).scalars()]
    shas = sorted({s for s in copies if isinstance(s, str) and s})
    if files is not None:
        for sha in shas:
            files.delete(sha)
    if shas:
        await db.execute(delete(Timer).where(Timer.kind == privacy_jobs.EXPIRE_TIMER,
                                             Timer.ref.in_(shas)))
    requests = [str(r) for r in (await db.execute(select(PrivacyRequest.id).where(
        PrivacyRequest.person_id == person.id))).scalars()]
    if requests:
        await db.execute(delete(Timer).where(Timer.kind == privacy_jobs.EXPORT_TIMER,
                                             Timer.ref.in_(requests)))
    counts["copies"] = len(shas)

    counts["deliveries"] = rowcount(await db.execute(delete(Delivery).where(mine)))
    for i in idents:
        # Their private chat (with its chat-wide menu row) and their turns in group chats.
        await db.execute(delete(Conversation).where(
            Conversation.channel == i.channel,
            or_(Conversation.chat_id == i.chat_id, Conversation.user_id == i.user_id)))
        if i.channel == "web":
            await db.execute(delete(WebChatMessage).where(WebChatMessage.chat_id == i.chat_id))
    counts["accounts"] = len(idents)

    # Places they registered as a host: the declarations keep their own address copy.
    place_ids = list((await db.execute(select(Place.id).where(Place.host_id == person.id))
                      ).scalars())
    if place_ids:
        await db.execute(update(Arrival).where(Arrival.place_id.in_(place_ids))
                         .values(place_id=None))
        await db.execute(delete(Place).where(Place.id.in_(place_ids)))
    counts["places"] = len(place_ids)
    # An invitation they accepted was written for them by name.
    await db.execute(update(Invite).where(Invite.used_by == person.id).values(name=None))

    # Their name or number inside other people's messages: the officer's copy of a named
    # report or of a declaration, a reviewer's copy of a notice they wrote (and those
    # copies kept in a staff member's web-chat history). Their phone number anywhere.
    # Notices to everyone never carry a name, so broadcast rows are not searched.
    mentions = 0
    if about:
        web_chats = list((await db.execute(select(Delivery.chat_id).where(
            or_(*about), Delivery.channel == "web"))).scalars())
        mentions += await _scrub_column(db, Delivery, Delivery.payload, found, or_(*about))
        if web_chats:
            mentions += await _scrub_column(db, WebChatMessage, WebChatMessage.payload, found,
                                            WebChatMessage.chat_id.in_(web_chats))
    mentions += await _scrub_column(db, Delivery, Delivery.payload, phones,
                                    Delivery.broadcast_id.is_(None))
    mentions += await _scrub_column(db, WebChatMessage, WebChatMessage.payload, phones)
    mentions += await _scrub_column(db, Conversation, Conversation.data, phones)
    counts["mentions"] = mentions

    # Audit entries about them keep what happened, not whom it was about: a later person
    # may get the same id (SQLite reuses the highest one).
    await db.execute(update(AuditEntry).where(AuditEntry.object_type == "person",
                                              AuditEntry.object_id == str(person.id))
                     .values(object_id="erased"))
    # Identities, consents, subscriptions, roles, link codes, console links and sessions
    # go with the person (ON DELETE CASCADE); cases, declarations, notices, invitations,
    # routing rules and audit entries keep a NULL link (ON DELETE SET NULL).
    await db.delete(person)
    await db.flush()
    audit.record(db, "privacy.erase", at=now, actor_label="data-subject",
                 object_type="person", object_id="erased", **counts)
    return counts


async def compact(db: Database) -> None:
    """After an erasure on SQLite: write the write-ahead log back and truncate it, so no
    old page image of the erased rows stays on disk (deleted content itself is zeroed by
    ``PRAGMA secure_delete``). Nothing to do on PostgreSQL (autovacuum)."""
    if db.is_postgres:
        return
    try:
        async with db.uow() as s:
            await s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    except Exception as exc:  # best effort: the next checkpoint overwrites the pages
        log.warning("checkpoint after erasure failed: %s", type(exc).__name__)
