"""What the public feeds may publish, and nothing more.

Only cases an admin marked publishable appear, and only their category, status, area and
dates (plus coordinates cut to about 100 m when the case has them): never the
description, the place text, the reporter, the officer or the thread. Only broadcasts
marked publishable appear in the CAP feed, with the notice's own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.messages import esc, to_plain
from bot.i18n import t
from bot.services.cases import OPEN
from broadcasts import audience, compose, message, templates
from storage.repos import areas
from storage.tables import Area, Broadcast, BroadcastOccurrence, Case

MAX_REQUESTS = 1000  # GeoReport v2: at most 1000 requests per answer
COORD_DECIMALS = 3  # ≈110 m: the street, not the doorstep


@dataclass(frozen=True)
class PublicCase:
    ref: str
    status: str  # open | closed
    category: str
    area: str  # "Tổ dân phố 1, Phường Hải Châu, Thành phố Đà Nẵng"
    area_code: str
    requested: datetime
    updated: datetime
    lat: float | None
    long: float | None


async def _chain(db: AsyncSession, area_id: int | None, cache: dict[int, tuple[str, str]]
                 ) -> tuple[str, str]:
    if area_id is None:
        return "", ""
    if area_id not in cache:
        area = await db.get(Area, area_id)
        chain = await areas.ancestors(db, area) if area else []
        cache[area_id] = (", ".join(areas.label(a) for a in chain), area.code if area else "")
    return cache[area_id]


async def public_cases(db: AsyncSession, *, start: datetime, end: datetime,
                       refs: list[str] | None = None, codes: list[str] | None = None,
                       statuses: list[str] | None = None) -> list[PublicCase]:
    """Published cases received between ``start`` and ``end`` (or exactly ``refs``)."""
    stmt = select(Case).where(Case.publishable.is_(True))
    if refs:
        stmt = stmt.where(Case.ref.in_(refs))
    else:
        stmt = stmt.where(Case.created_at >= start, Case.created_at <= end)
    if codes:
        stmt = stmt.where(Case.category_code.in_(codes))
    if statuses:
        wanted = [s for s in statuses if s in ("open", "closed")]
        if wanted == ["open"]:
            stmt = stmt.where(Case.status.in_(OPEN))
        elif wanted == ["closed"]:
            stmt = stmt.where(Case.status == "closed")
    rows = (await db.execute(stmt.order_by(Case.created_at.desc(), Case.id.desc())
                             .limit(MAX_REQUESTS))).scalars()
    cache: dict[int, tuple[str, str]] = {}
    out = []
    for c in rows:
        label, code = await _chain(db, c.area_id, cache)
        moments = [m for m in (c.created_at, c.acknowledged_at, c.closed_at) if m is not None]
        coords = c.latitude is not None and c.longitude is not None
        out.append(PublicCase(
            c.ref, "closed" if c.status == "closed" else "open", c.category_code, label, code,
            c.created_at, max(moments),
            round(c.latitude, COORD_DECIMALS) if coords and c.latitude is not None else None,
            round(c.longitude, COORD_DECIMALS) if coords and c.longitude is not None
            else None))
    return out


# --- broadcasts for the CAP feed ------------------------------------------------------

@dataclass(frozen=True)
class PublicAlert:
    id: int
    sent: datetime
    expires: datetime | None
    urgent: bool
    category: str  # a CAP 1.2 category (the template's, from broadcasts/library)
    event: dict[str, str]  # the template's title, per language
    texts: dict[str, str]  # the notice as plain text, per language
    areas: list[tuple[str, str]]  # (code, "Phường Hải Châu, Thành phố Đà Nẵng")
    headlines: dict[str, str]  # a line per language (the author's own first line if any)


def _headline(text: str, skip: int = 0) -> str:
    """The first line (after ``skip`` lines), cut to CAP's suggested 160 characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[skip] if len(lines) > skip else (lines[0] if lines else "")
    return first if len(first) <= 160 else first[:159] + "…"


PUBLIC_STATES = ("scheduled", "paused", "done")  # approved, not withdrawn


async def notice_text(db: AsyncSession, bc: Broadcast, lang: str, config: Config) -> str:
    """The notice as its first target area's residents read it (markup subset)."""
    draft = compose.draft_of(bc, config)
    notice = draft.notice(config)
    try:
        scope = await audience.expand(db, draft.audience)
        values = message.context(scope, scope.default_key, bc.effective_at or bc.created_at,
                                 config.bot.tz, notice)
        return templates.render(notice.template, lang, values, notice.own_text(lang))
    except (templates.TemplateProblem, ValueError):
        return esc(notice.own_text(lang))


async def _areas(db: AsyncSession, bc: Broadcast) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for area_id in audience.Audience.from_dict(bc.audience or {}).areas:
        area = await db.get(Area, area_id)
        if area is not None:
            chain = await areas.ancestors(db, area)
            out.append((area.code, ", ".join(areas.label(a) for a in chain)))
    return out


async def public_alerts(db: AsyncSession, config: Config, broadcast_id: int | None = None,
                        limit: int = 100) -> list[PublicAlert]:
    """Broadcasts marked publishable that were approved and not withdrawn, newest first."""
    stmt = select(Broadcast).where(Broadcast.publishable.is_(True),
                                   Broadcast.status.in_(PUBLIC_STATES))
    if broadcast_id is not None:
        stmt = stmt.where(Broadcast.id == broadcast_id)
    rows = (await db.execute(stmt.order_by(Broadcast.id.desc()).limit(limit))).scalars().all()
    out = []
    for b in rows:
        started = (await db.execute(select(func.min(BroadcastOccurrence.started_at)).where(
            BroadcastOccurrence.broadcast_id == b.id))).scalar_one_or_none()
        entry = templates.library().get(b.template)
        texts = {"vi": to_plain(await notice_text(db, b, "vi", config)).strip()}
        if b.template != "notice" or b.body_en.strip():  # a free notice may be Vietnamese only
            texts["en"] = to_plain(await notice_text(db, b, "en", config)).strip()
        event = {lang: entry.title(lang) if entry else t(lang, f"bc_topic.{b.topic}")
                 for lang in ("vi", "en")}
        # A free notice's first line is the unit's letterhead: its headline is the author's.
        skip = 1 if b.template == "notice" else 0
        heads = {lg: _headline(text, skip) for lg, text in texts.items()}
        out.append(PublicAlert(b.id, started or b.effective_at or b.approved_at or b.created_at,
                               b.expires_at, b.urgent, entry.cap if entry else "Safety", event,
                               texts, await _areas(db, b), heads))
    return out
