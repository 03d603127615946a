"""The area tree: provinces → communes → villages/street groups. Never commits."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import fold
from storage.tables import Area

LEVELS = ("province", "commune", "village")


async def by_code(session: AsyncSession, code: str) -> Area | None:
    return (await session.execute(select(Area).where(Area.code == code))).scalar_one_or_none()


async def by_id(session: AsyncSession, area_id: int) -> Area | None:
    return await session.get(Area, area_id)


async def children(session: AsyncSession, parent_id: int) -> list[Area]:
    stmt = select(Area).where(Area.parent_id == parent_id).order_by(Area.code)
    return list((await session.execute(stmt)).scalars())


async def ancestors(session: AsyncSession, area: Area) -> list[Area]:
    """``area`` and its parents, most specific first (village → commune → province)."""
    chain = [area]
    while chain[-1].parent_id is not None:
        parent = await session.get(Area, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    return chain


async def descendant_ids(session: AsyncSession, area_ids: Iterable[int]) -> set[int]:
    """The areas and everything below them (the tree is three levels deep)."""
    found = set(area_ids)
    frontier = set(found)
    while frontier:
        stmt = select(Area.id).where(Area.parent_id.in_(frontier))
        frontier = set((await session.execute(stmt)).scalars()) - found
        found |= frontier
    return found


@functools.cache
def _search_stmt(level: bool, parent: bool, words: int) -> Select[Area]:
    # One statement per shape, built once: onboarding searches on every typed answer, and
    # building and keying the statement cost more CPU than SQLite takes to run it.
    stmt = select(Area)
    if level:
        stmt = stmt.where(Area.level == bindparam("level"))
    if parent:
        stmt = stmt.where(Area.parent_id == bindparam("parent_id"))
    for i in range(words):
        stmt = stmt.where(Area.key.like(bindparam(f"w{i}"), escape="/"))
    return stmt.limit(200)


def _contains(word: str) -> str:
    escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


async def search(session: AsyncSession, query: str, *, level: str | None = None,
                 parent_id: int | None = None, limit: int = 8) -> list[Area]:
    """Accent-insensitive search: exact key, then prefix, then every word contained."""
    key = fold(query)
    if not key:
        return []
    words = key.split(" ")
    params: dict[str, object] = {f"w{i}": _contains(w) for i, w in enumerate(words)}
    if level:
        params["level"] = level
    if parent_id is not None:
        params["parent_id"] = parent_id
    stmt = _search_stmt(bool(level), parent_id is not None, len(words))
    rows = list((await session.execute(stmt, params)).scalars())

    def rank(a: Area) -> tuple[int, int, str]:
        name = fold(a.name)
        first = 0 if key in (name, a.key) else 1 if name.startswith(key) else 2
        return (first, len(name), a.code)

    return sorted(rows, key=rank)[:limit]


async def next_village_code(session: AsyncSession, commune: Area) -> str:
    count = (await session.execute(select(func.count()).select_from(Area)
                                   .where(Area.parent_id == commune.id))).scalar_one()
    n = int(count) + 1
    while await by_code(session, f"{commune.code}-{n}") is not None:
        n += 1
    return f"{commune.code}-{n}"


async def add(session: AsyncSession, *, code: str, name: str, type_: str, level: str,
              parent: Area | None) -> Area:
    area = Area(code=code, name=name, type=type_, level=level, key=fold(f"{type_} {name}"),
                parent_id=parent.id if parent else None)
    session.add(area)
    await session.flush()
    return area


def label(area: Area) -> str:
    return f"{area.type} {area.name}"


async def by_level(session: AsyncSession, level: str) -> list[Area]:
    stmt = select(Area).where(Area.level == level).order_by(Area.code)
    return list((await session.execute(stmt)).scalars())
