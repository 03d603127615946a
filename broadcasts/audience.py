"""Who receives a notice, as SQL: the fan-out inserts from these selects in one statement.

An audience is a set of target areas (each with everything below it), the roles to reach
there (residents, hosts, village heads, officers, topic subscribers) and whether the
areas' linked group chats get it too. People are reached once, on one reachable account
(Telegram or Zalo before the web chat), only with consent, never after erasure; routine
notices skip people who opted out or chose other topics, urgent ones do not.

Each recipient row carries the *area key* of the text it gets: the commune of the
recipient's home area (villages roll up to their commune), so ``{{ commune }}`` and
``{{ hotline }}`` are the recipient's own police.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.repos import areas as area_repo
from storage.tables import Area, GroupChat, Identity, Person, Place, RoleGrant, Subscription

ROLES = ("residents", "hosts", "village_heads", "officers", "subscribers")
CHOSEN = "*"  # a subscription row with this topic: the person picked their topics
OFFICER_ROLES = ("officer", "leader")


@dataclass(frozen=True)
class Audience:
    areas: tuple[int, ...]
    roles: tuple[str, ...] = ("residents",)
    groups: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"areas": list(self.areas), "roles": list(self.roles), "groups": self.groups}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Audience:
        return cls(tuple(int(a) for a in d.get("areas", ())),
                   tuple(r for r in d.get("roles", ("residents",)) if r in ROLES),
                   bool(d.get("groups", True)))


@dataclass
class Scope:
    """The target areas expanded: every area id, and each area key's texts' places."""

    ids: list[int]
    keys: dict[int, Area] = field(default_factory=dict)  # area key → that area
    targets: dict[int, list[Area]] = field(default_factory=dict)  # area key → targets in it
    default_key: int = 0


def _key(a: Any) -> ColumnElement[int]:
    return case((a.level == "village", a.parent_id), else_=a.id)


async def expand(db: AsyncSession, aud: Audience) -> Scope:
    """Target areas with their descendants; a target inside another one adds nothing."""
    found = [a for a in [await area_repo.by_id(db, i) for i in aud.areas] if a is not None]
    if not found:
        raise ValueError("the audience has no area")
    below = {t.id: await area_repo.descendant_ids(db, [t.id]) for t in found}
    targets = [t for t in found if not any(o.id != t.id and t.id in below[o.id] for o in found)]
    ids = sorted(set().union(*(below[t.id] for t in targets)))
    rows = (await db.execute(select(Area).where(Area.id.in_(ids)))).scalars().all()
    by_id = {a.id: a for a in rows}

    def key_of(a: Area) -> int:
        return a.parent_id if a.level == "village" and a.parent_id else a.id

    scope = Scope(ids, default_key=key_of(targets[0]))
    for a in [*rows, *targets]:
        if key_of(a) not in scope.keys:
            scope.keys[key_of(a)] = by_id.get(key_of(a)) or await area_repo.by_id(
                db, key_of(a)) or a
    for t in targets:
        for k in scope.keys:
            if k == key_of(t) or k in below[t.id]:
                scope.targets.setdefault(k, []).append(t)
    return scope


def _identity(person_id: Any) -> Any:
    """The one account a person is reached on: chat apps before the web chat, oldest first
    (an index lookup per recipient; a window over every account sorts them all)."""
    order = (case((Identity.channel == "web", 1), else_=0), Identity.id)
    return (select(Identity.id).where(Identity.person_id == person_id,
                                      Identity.reachable.is_(True))
            .order_by(*order).limit(1).scalar_subquery())


def people(aud: Audience, scope: Scope, topic: str, urgent: bool) -> Select:
    """person_id, channel, chat_id, area_key, language of every person to reach."""
    p, home, ident = Person, aliased(Area), aliased(Identity)
    in_scope = p.home_area_id.in_(scope.ids)

    def grant(*roles: str) -> Any:
        return exists().where(RoleGrant.person_id == p.id, RoleGrant.role.in_(roles),
                              RoleGrant.revoked_at.is_(None), RoleGrant.area_id.in_(scope.ids))

    picks = {"residents": in_scope,
             "hosts": exists().where(Place.host_id == p.id, Place.area_id.in_(scope.ids)),
             "village_heads": grant("village_head"),
             "officers": grant(*OFFICER_ROLES),
             "subscribers": and_(in_scope, exists().where(Subscription.person_id == p.id,
                                                         Subscription.topic == topic))}
    who = [picks[r] for r in aud.roles if r in picks] or [literal(False)]
    where = [p.consent.is_(True), p.erased_at.is_(None), or_(*who)]
    if not urgent:
        where.append(p.broadcasts_opt_out.is_(False))
        if topic != "general":
            chose = exists().where(Subscription.person_id == p.id, Subscription.topic == CHOSEN)
            wants = exists().where(Subscription.person_id == p.id, Subscription.topic == topic)
            where.append(or_(~chose, wants))
    key = case((in_scope, _key(home)), else_=literal(scope.default_key))
    language = case((p.language == "en", "en"), else_="vi")
    return (select(p.id.label("person_id"), ident.channel, ident.chat_id,
                   key.label("area_key"), language.label("language"))
            .select_from(p).join(ident, ident.id == _identity(p.id))
            .outerjoin(home, home.id == p.home_area_id).where(*where))


def groups(scope: Scope, language: str) -> Select:
    """group_id, channel, chat_id, area_key, language of every active linked group."""
    g, ga = GroupChat, aliased(Area)
    return (select(g.id.label("group_id"), g.channel, g.chat_id, _key(ga).label("area_key"),
                   literal(language).label("language"))
            .join(ga, ga.id == g.area_id).where(g.active.is_(True), g.area_id.in_(scope.ids)))


async def count(db: AsyncSession, aud: Audience, topic: str, urgent: bool,
                group_language: str = "vi") -> tuple[int, int]:
    """(people, group chats) the notice would reach now (the preview's figures)."""
    scope = await expand(db, aud)
    n_people = (await db.execute(select(func.count()).select_from(
        people(aud, scope, topic, urgent).subquery()))).scalar_one()
    n_groups = 0
    if aud.groups:
        n_groups = (await db.execute(select(func.count()).select_from(
            groups(scope, group_language).subquery()))).scalar_one()
    return int(n_people), int(n_groups)


def labels(areas: Sequence[Area]) -> str:
    return ", ".join(area_repo.label(a) for a in areas)
