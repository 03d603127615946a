"""Residents and staff: registration with consent, profile changes, roles."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Inbound
from bot.i18n import t
from storage.repos import areas, people
from storage.tables import Area, Consent, Person

PURPOSE_SERVICE = "service"


def normalise_phone(raw: str) -> str | None:
    """A Vietnamese (or international) number in E.164, or None when invalid."""
    try:
        num = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


async def register(db: AsyncSession, ev: Inbound, *, language: str, notice_version: str,
                   at: datetime) -> Person:
    """Create the person behind ``ev`` with an explicit, recorded consent."""
    person = await people.by_identity(db, ev.channel, ev.user_id)
    if person is None:
        person = await people.add_person(
            db, channel=ev.channel, user_id=ev.user_id, chat_id=ev.chat_id, language=language,
            username=ev.username or None, display_name=ev.display_name or None)
    person.consent = True
    person.language = language
    db.add(Consent(person_id=person.id, purpose=PURPOSE_SERVICE,
                   notice_version=notice_version, granted=True, at=at))
    await db.flush()
    return person


async def area_label(db: AsyncSession, area_id: int | None, lang: str) -> str:
    """"Thôn 3, Phường Hải Châu, Thành phố Đà Nẵng" for a home area."""
    if area_id is None:
        return t(lang, "onboard.no_area")
    area = await areas.by_id(db, area_id)
    if area is None:
        return t(lang, "onboard.no_area")
    chain = await areas.ancestors(db, area)
    return ", ".join(areas.label(a) for a in chain)


def roles_text(roles: list[tuple[str, int]], area_names: dict[int, str], lang: str) -> str:
    return "; ".join(f"{t(lang, f'roles.{r}')} — {area_names.get(a, '?')}" for r, a in roles)


async def role_areas(db: AsyncSession, roles: list[tuple[str, int]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for _, area_id in roles:
        area: Area | None = await areas.by_id(db, area_id)
        if area is not None:
            out[area_id] = areas.label(area)
    return out
