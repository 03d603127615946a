"""Personal-data rights (Law 91/2025, Decree 356/2025): see, copy, correct, withdraw,
delete. Everything personal is found from the person id (see storage/tables.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Inbound
from bot.services import audit, cases, categories, tips
from broadcasts import templates
from storage import dialect
from storage.repos import areas
from storage.tables import (
    Area,
    Arrival,
    Attachment,
    Case,
    Consent,
    Guest,
    Identity,
    Person,
    Place,
    PrivacyRequest,
    RoleGrant,
    Subscription,
    Timer,
)

KINDS = ("see", "copy", "correct", "withdraw", "delete")
ACK_WORKING_DAYS = 2
CORRECTION_CATEGORY = "KHAC"  # corrections that need a human go to the area's police
CASE_KIND = "privacy"
LINK_USED = "link_used"  # a timer row per one-time link already fetched (see claim_link)
_REF = re.compile(r"\bDL-\d\d-\d{6}\b")
CHOSEN_TOPICS = "*"  # internal marker row of broadcasts.audience, not a topic


def mask_id(guest: Guest) -> str:
    """The stored masked form (``0011******78``); never decrypt for the data subject."""
    return guest.id_mask or "*" * 6 + guest.id_last


def add_working_days(start: datetime, days: int) -> datetime:
    out = start
    while days > 0:
        out += timedelta(days=1)
        if out.weekday() < 5:
            days -= 1
    return out


async def open_request(db: AsyncSession, person: Person, kind: str, now: datetime,
                       complete_days: int) -> PrivacyRequest:
    """Record a request with its legal deadlines; acknowledged at once by the caller."""
    req = PrivacyRequest(ref=await cases.next_ref(db, "DL", now), person_id=person.id,
                         kind=kind, status="received", received_at=now,
                         ack_due_at=add_working_days(now, ACK_WORKING_DAYS),
                         due_at=now + timedelta(days=complete_days))
    db.add(req)
    await db.flush()
    audit.record(db, f"privacy.{kind}", at=now, actor_id=person.id,
                 object_type="privacy_request", object_id=req.ref)
    return req


def complete(req: PrivacyRequest, now: datetime) -> None:
    req.status, req.completed_at = "completed", now


async def forward_correction(db: AsyncSession, person: Person, req: PrivacyRequest, *,
                             arrival: Arrival | None, text: str, ev: Inbound,
                             now: datetime) -> Case:
    """A correction only staff can make (a submitted declaration, a report): a case of kind
    ``privacy`` for the responsible officer, routed like a tip to the declaration's area
    (or the person's home area); the request completes when the case is closed."""
    cat = await categories.get(db, CORRECTION_CATEGORY, None)
    if cat is None:
        raise LookupError(f"category {CORRECTION_CATEGORY} is missing")
    head = f"{req.ref} · {arrival.ref}" if arrival is not None else req.ref
    case = await cases.create(
        db, kind=CASE_KIND, category=cat,
        area_id=arrival.area_id if arrival is not None else person.home_area_id,
        description=f"{head}: {text}", place=None, latitude=None, longitude=None,
        occurred=None, anonymous=False, reporter_id=person.id, ev=ev, photos=[], now=now)
    await tips.route_and_notify(db, case, now)
    req.status = "forwarded"
    return case


async def on_case_closed(db: AsyncSession, case: Case, now: datetime) -> None:
    """Closing a forwarded correction completes the data subject's request."""
    if case.kind != CASE_KIND:
        return
    found = _REF.search(case.description or "")
    if found is None:
        return
    req = (await db.execute(select(PrivacyRequest).where(PrivacyRequest.ref == found.group())
                            )).scalar_one_or_none()
    if req is not None and req.status != "completed":
        complete(req, now)


async def claim_link(db: AsyncSession, sig: str, expires: datetime, now: datetime,
                     name: str) -> bool:
    """Mark a one-time file link used; False when it already was (any process).

    The unique (kind, ref, due_at) of ``timers`` makes the claim atomic on both backends;
    the row is never pending, and the retention purge removes it with other old timers.
    """
    stmt = dialect.insert(db, Timer).values(kind=LINK_USED, ref=sig[:64], due_at=expires,
                                            state="fired", fired_at=now, data={})
    first = dialect.rowcount(await db.execute(
        stmt.on_conflict_do_nothing(index_elements=["kind", "ref", "due_at"]))) > 0
    audit.record(db, "file.download" if first else "file.download_refused", at=now,
                 actor_label="link", object_type="file", object_id=name[:40])
    return first


async def _area_chain(db: AsyncSession, area_id: int | None) -> str | None:
    area = await areas.by_id(db, area_id) if area_id else None
    if area is None:
        return None
    return ", ".join(areas.label(a) for a in await areas.ancestors(db, area))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def collect(db: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything the bot holds about the person, as plain data (guest IDs masked)."""
    home = await areas.by_id(db, person.home_area_id) if person.home_area_id else None

    async def rows(stmt: Any) -> list[Any]:
        return list((await db.execute(stmt)).scalars())

    idents = await rows(select(Identity).where(Identity.person_id == person.id)
                        .order_by(Identity.id))
    grants = await rows(select(RoleGrant).where(RoleGrant.person_id == person.id)
                        .order_by(RoleGrant.id))
    consents = await rows(select(Consent).where(Consent.person_id == person.id)
                          .order_by(Consent.at, Consent.id))
    subs = await rows(select(Subscription).where(Subscription.person_id == person.id))
    picked = {s.topic: s for s in subs}
    # No rows: every topic; a marker row: only the topics kept (broadcasts.subscriptions).
    receives = [] if person.broadcasts_opt_out or not person.consent else [
        t for t in templates.topics() if CHOSEN_TOPICS not in picked or t in picked]
    tips_ = await rows(select(Case).where(Case.reporter_id == person.id)
                       .order_by(Case.created_at, Case.id))
    places = await rows(select(Place).where(Place.host_id == person.id).order_by(Place.id))
    arrivals = await rows(select(Arrival).where(Arrival.host_id == person.id)
                          .order_by(Arrival.submitted_at, Arrival.id))
    requests = await rows(select(PrivacyRequest).where(PrivacyRequest.person_id == person.id)
                          .order_by(PrivacyRequest.received_at, PrivacyRequest.id))
    area_codes: dict[int, Area] = {}
    for g in grants:
        a = await areas.by_id(db, g.area_id)
        if a is not None:
            area_codes[g.area_id] = a
    photos = dict((await db.execute(
        select(Attachment.case_id, func.count()).where(
            Attachment.case_id.in_([c.id for c in tips_] or [0])).group_by(Attachment.case_id)
    )).all())
    out_arrivals = []
    for a in arrivals:
        guests = await rows(select(Guest).where(Guest.arrival_id == a.id).order_by(Guest.id))
        out_arrivals.append({
            "ref": a.ref, "address": a.address, "area": await _area_chain(db, a.area_id),
            "submitted_at": _iso(a.submitted_at), "on_time": a.on_time,
            "status": "acknowledged" if a.acknowledged_at is not None else "submitted",
            "kept_until": _iso(a.purge_after),
            "guests": [{"full_name": g.full_name, "birth_date": _iso(g.birth_date),
                        "nationality": g.nationality, "id_kind": g.id_kind,
                        "id_number": mask_id(g), "stay_from": _iso(g.stay_from),
                        "stay_to": _iso(g.stay_to), "ended_at": _iso(g.ended_at)}
                       for g in guests]})
    return {
        "profile": {"name": person.display_name, "phone": person.phone,
                    "language": person.language,
                    "home_area": await _area_chain(db, person.home_area_id),
                    "home_area_code": home.code if home else None,
                    "created_at": _iso(person.created_at),
                    "consent": person.consent,
                    "broadcasts_opt_out": person.broadcasts_opt_out},
        "accounts": [{"channel": i.channel, "user_id": i.user_id, "chat_id": i.chat_id,
                      "username": i.username, "since": _iso(i.created_at)} for i in idents],
        "roles": [{"role": g.role,
                   "area": areas.label(area_codes[g.area_id]) if g.area_id in area_codes
                   else None,
                   "area_code": area_codes[g.area_id].code if g.area_id in area_codes
                   else None,
                   "since": _iso(g.created_at), "revoked_at": _iso(g.revoked_at)}
                  for g in grants],
        "consents": [{"purpose": c.purpose, "notice_version": c.notice_version,
                      "granted": c.granted, "at": _iso(c.at)} for c in consents],
        "subscriptions": [{"topic": t, "chosen_at": _iso(picked[t].created_at)
                           if t in picked else None} for t in receives],
        "reports": [{"ref": c.ref, "kind": c.kind, "category": c.category_code,
                     "status": c.status, "created_at": _iso(c.created_at),
                     "area": await _area_chain(db, c.area_id), "place": c.place_text,
                     "occurred": c.occurred, "description": c.description,
                     "anonymous": c.anonymous, "photos": int(photos.get(c.id, 0)),
                     "closed_at": _iso(c.closed_at), "outcome": c.outcome}
                    for c in tips_],
        "places": [{"kind": p.kind, "address": p.address,
                    "area": await _area_chain(db, p.area_id), "since": _iso(p.created_at)}
                   for p in places],
        "declarations": out_arrivals,
        "requests": [{"ref": r.ref, "kind": r.kind, "status": r.status,
                      "received_at": _iso(r.received_at), "due_at": _iso(r.due_at),
                      "completed_at": _iso(r.completed_at)} for r in requests],
    }
