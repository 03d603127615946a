"""Composing a notice (chat and CLI alike): the draft, who may send it where, the preview
— exactly what recipients will see and how many they are — and creating the broadcast.

Officers' notices wait for a leader's approval; leaders' and admins' go out directly
unless ``[broadcasts] leaders_need_approval`` is set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.services import audit
from broadcasts import audience, message, schedule, templates
from storage.repos import areas as area_repo
from storage.tables import Broadcast

COMPOSERS = ("leader", "officer", "admin")
Roles = list[tuple[str, int]]


@dataclass
class Draft:
    template: str = "notice"
    text_vi: str = ""
    text_en: str = ""
    note: str = ""
    areas: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: ["residents"])
    groups: bool = True
    schedule: dict[str, Any] = field(default_factory=lambda: {"kind": "now"})
    urgent: bool = False
    photo_sha: str = ""
    expires: str = ""  # ISO date; a recurring notice's end date is its expiry

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Draft:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def audience(self) -> audience.Audience:
        return audience.Audience(tuple(self.areas), tuple(self.roles), self.groups)

    @property
    def topic(self) -> str:
        entry = templates.library().get(self.template)
        return entry.topic if entry else "general"

    def expires_at(self, config: Config) -> datetime | None:
        end = self.schedule.get("until") or self.expires
        return datetime.combine(date.fromisoformat(end), time(23, 59, 59), config.bot.tz) \
            if end else None

    def notice(self, config: Config) -> message.Notice:
        return message.Notice(self.template, self.text_vi, self.text_en, self.note,
                              self.urgent, self.photo_sha, self.expires_at(config))


def may_compose(roles: Roles) -> bool:
    return any(r in COMPOSERS for r, _ in roles)


def needs_approval(roles: Roles, config: Config) -> bool:
    names = {r for r, _ in roles}
    if "admin" in names:
        return False
    if "leader" in names:
        return config.broadcasts.leaders_need_approval
    return True


async def jurisdiction(db: AsyncSession, roles: Roles) -> set[int]:
    """Every area a composer may target: their role areas and everything below."""
    return await area_repo.descendant_ids(db, [a for r, a in roles if r in COMPOSERS])


async def owning_area(db: AsyncSession, roles: Roles, targets: list[int]) -> int | None:
    """The composer's smallest unit whose area holds all the targets (approvals, /thongke)."""
    best: tuple[int, int] | None = None
    for area_id in {a for r, a in roles if r in COMPOSERS}:
        below = await area_repo.descendant_ids(db, [area_id])
        if set(targets) <= below and (best is None or len(below) < best[0]):
            best = (len(below), area_id)
    return best[1] if best else (targets[0] if targets else None)


@dataclass
class Preview:
    text: str = ""
    people: int = 0
    groups: int = 0
    first: datetime | None = None
    quiet_until: datetime | None = None
    problem: str = ""  # why it cannot be sent (a template error, a bad schedule…)


async def preview(db: AsyncSession, draft: Draft, lang: str, config: Config,
                  now: datetime) -> Preview:
    """What recipients will see (for the first target area) and how many they are."""
    out = Preview()
    if not draft.areas:
        out.problem = "no area"
        return out
    notice = draft.notice(config)
    try:
        scope = await audience.expand(db, draft.audience)
        out.first = schedule.validate(draft.schedule, now, config.bot.tz)
        for key in scope.keys:  # every commune's text must render, not just the shown one
            for lg in ("vi", "en"):
                text = message.text(notice, lg, message.context(
                    scope, key, out.first, config.bot.tz, notice))
                if key == scope.default_key and lg == lang:
                    out.text = text
    except (templates.TemplateProblem, schedule.ScheduleError, ValueError) as exc:
        out.problem = str(exc)
        return out
    out.people, out.groups = await audience.count(db, draft.audience, draft.topic, draft.urgent,
                                                  config.bot.language)
    if not draft.urgent:
        b = config.broadcasts
        out.quiet_until = schedule.quiet_until(out.first, b.quiet_start, b.quiet_end,
                                               config.bot.tz)
    return out


async def create(db: AsyncSession, draft: Draft, *, author_id: int | None, roles: Roles,
                 config: Config, now: datetime, actor_label: str = "chat") -> Broadcast:
    """Store the notice: scheduled at once, or pending a leader's approval.

    Raises:
        ValueError: an area outside the composer's jurisdiction, or nothing to send.
    """
    allowed = await jurisdiction(db, roles)
    if not draft.areas or not set(draft.areas) <= allowed:
        raise ValueError("areas outside your jurisdiction")
    if not draft.roles and not draft.groups:
        raise ValueError("no recipients chosen")
    check = await preview(db, draft, "vi", config, now)
    if check.problem:
        raise ValueError(check.problem)
    pending = needs_approval(roles, config)
    bc = Broadcast(author_id=author_id, template=draft.template, topic=draft.topic,
                   params={"note": draft.note} if draft.note else {},
                   body_vi=draft.text_vi, body_en=draft.text_en,
                   audience=draft.audience.to_dict(), schedule=draft.schedule,
                   urgent=draft.urgent, status="pending" if pending else "scheduled",
                   area_id=await owning_area(db, roles, draft.areas),
                   photo_sha=draft.photo_sha or None, effective_at=check.first,
                   expires_at=draft.expires_at(config),
                   next_due_at=None if pending else check.first, created_at=now, updated_at=now)
    db.add(bc)
    await db.flush()
    audit.record(db, "broadcast.create", at=now, actor_id=author_id, actor_label=actor_label,
                 object_type="broadcast", object_id=bc.id, status=bc.status,
                 template=bc.template, schedule=draft.schedule.get("kind", "now"))
    return bc


def draft_of(bc: Broadcast, config: Config) -> Draft:
    """A stored notice as a draft (to preview it for a reviewer)."""
    aud = audience.Audience.from_dict(bc.audience)
    expires = f"{bc.expires_at.astimezone(config.bot.tz):%Y-%m-%d}" if bc.expires_at else ""
    return Draft(bc.template, bc.body_vi, bc.body_en, str(bc.params.get("note", "")),
                 list(aud.areas), list(aud.roles), aud.groups, dict(bc.schedule), bc.urgent,
                 bc.photo_sha or "", expires)
