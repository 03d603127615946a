"""Names for ids in bulk: areas, people, categories (one query each, not one per row)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import categories
from storage.repos import areas
from storage.tables import Area, Category, Person


async def area_labels(db: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (await db.execute(select(Area).where(Area.id.in_(wanted)))).scalars()
    return {a.id: areas.label(a) for a in rows}


async def person_names(db: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (await db.execute(select(Person.id, Person.display_name)
                             .where(Person.id.in_(wanted)))).all()
    return {pid: name or f"#{pid}" for pid, name in rows}


async def category_list(db: AsyncSession) -> list[Category]:
    """The default categories in their order (communes' own additions after them)."""
    rows = (await db.execute(select(Category).order_by(
        Category.area_id.is_not(None), Category.position, Category.code))).scalars()
    seen: dict[str, Category] = {}
    for c in rows:
        seen.setdefault(c.code, c)
    return list(seen.values())


async def category_names(db: AsyncSession, lang: str) -> dict[str, str]:
    return {c.code: categories.name(c, lang) for c in await category_list(db)}


async def chain_label(db: AsyncSession, area_id: int | None) -> str:
    """"Tổ dân phố 1, Phường Hải Châu, Thành phố Đà Nẵng"."""
    area = await areas.by_id(db, area_id) if area_id else None
    return ", ".join(areas.label(a) for a in await areas.ancestors(db, area)) if area else "—"
