"""Approval: an officer's notice goes, as a delivery row with two buttons, to the leaders
of its unit (and above); one of them approves it (it is then scheduled) or rejects it
with a comment the author reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import audit, notify
from broadcasts import compose, reports, schedule
from broadcasts.outbox import PRIORITY_STATUS
from storage.repos import areas as area_repo
from storage.tables import Area, Broadcast, Person, RoleGrant

REVIEWERS = ("leader",)


async def reviewer_areas(db: AsyncSession, bc: Broadcast) -> list[int]:
    """The notice's unit and the areas above it: their leaders may review it."""
    area = await area_repo.by_id(db, bc.area_id) if bc.area_id else None
    return [a.id for a in await area_repo.ancestors(db, area)] if area else []


async def reviewers(db: AsyncSession, bc: Broadcast) -> list[int]:
    ids = await reviewer_areas(db, bc)
    rows = (await db.execute(select(RoleGrant.person_id).where(
        RoleGrant.role.in_(REVIEWERS), RoleGrant.revoked_at.is_(None),
        RoleGrant.area_id.in_(ids)).order_by(RoleGrant.id))).scalars()
    return [p for p in dict.fromkeys(rows) if p != bc.author_id]


async def may_review(db: AsyncSession, bc: Broadcast, person_id: int,
                     roles: list[tuple[str, int]]) -> bool:
    ids = set(await reviewer_areas(db, bc))
    return person_id != bc.author_id and any(r in REVIEWERS and a in ids for r, a in roles)


async def summary(db: AsyncSession, bc: Broadcast, lang: str, config: Config,
                  now: datetime) -> tuple[str, compose.Preview]:
    """The preview block shown to authors and reviewers."""
    draft = compose.draft_of(bc, config)
    pv = await compose.preview(db, draft, lang, config, now)
    targets = [a for a in [await db.get(Area, i) for i in draft.areas] if a is not None]
    who = [t(lang, f"bc_role.{r}") for r in draft.roles] + \
        ([t(lang, "bc_role.groups")] if draft.groups else [])
    text = t(lang, "bc.summary", title=reports.title(bc, lang), people=pv.people,
             groups=pv.groups, areas=esc(", ".join(area_repo.label(a) for a in targets)),
             roles=", ".join(who), when=schedule.describe(draft.schedule, lang))
    return text, pv


async def request(db: AsyncSession, bc: Broadcast, config: Config, now: datetime) -> int:
    """Ask every reviewer (delivery rows with buttons); returns how many were asked."""
    author = await db.get(Person, bc.author_id) if bc.author_id else None
    asked = 0
    for pid in await reviewers(db, bc):
        lang = await notify.language_of(db, pid)
        block, pv = await summary(db, bc, lang, config, now)
        head = t(lang, "bc.review_request", id=bc.id,
                 author=esc(author.display_name if author and author.display_name else "—"))
        buttons = ((Choice(t(lang, "bc.approve"), f"!bcok:{bc.id}"),
                    Choice(t(lang, "bc.reject"), f"!bcno:{bc.id}")),)
        reply = Reply(text=f"{head}\n{block}\n\n{pv.text or esc(pv.problem)}", choices=buttons)
        asked += await notify.to_person(db, pid, reply, kind="bc_review", priority=PRIORITY_STATUS,
                                        key=f"bcreview:{bc.id}:{pid}", at=now) > 0
    return asked


async def approve(db: AsyncSession, bc: Broadcast, person_id: int, config: Config,
                  now: datetime) -> datetime:
    """Schedule the notice; returns its first due time (ValueError: no time left)."""
    first = schedule.validate(bc.schedule, now, config.bot.tz)
    bc.status, bc.approved_by, bc.approved_at = "scheduled", person_id, now
    bc.next_due_at, bc.effective_at, bc.updated_at = first, first, now
    audit.record(db, "broadcast.approve", at=now, actor_id=person_id, object_type="broadcast",
                 object_id=bc.id)
    await _tell_author(db, bc, now, "bc.your_approved",
                       first=f"{first.astimezone(config.bot.tz):%d/%m/%Y %H:%M}")
    return first


async def reject(db: AsyncSession, bc: Broadcast, person_id: int, note: str,
                 now: datetime) -> None:
    bc.status, bc.approved_by, bc.review_note, bc.updated_at = "rejected", person_id, note, now
    audit.record(db, "broadcast.reject", at=now, actor_id=person_id, object_type="broadcast",
                 object_id=bc.id)
    await _tell_author(db, bc, now, "bc.your_rejected", note=esc(note))


async def _tell_author(db: AsyncSession, bc: Broadcast, now: datetime, key: str,
                       **fmt: str) -> None:
    if bc.author_id is None:
        return
    lang = await notify.language_of(db, bc.author_id)
    await notify.to_person(db, bc.author_id, Reply(t(lang, key, id=bc.id, **fmt)),
                           kind="bc_report", key=f"{key}:{bc.id}", at=now,
                           priority=PRIORITY_STATUS)
