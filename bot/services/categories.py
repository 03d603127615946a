"""Tip categories: defaults from domain.md §8, overridable per commune in the table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import Category


@dataclass(frozen=True)
class Default:
    code: str
    name_vi: str
    name_en: str
    ack_minutes: int
    close_days: int
    emergency: bool = False
    team_visible: bool = False


DEFAULTS = (
    Default("KHAN", "Khẩn cấp, đang xảy ra", "Emergency happening now", 5, 1, emergency=True),
    Default("TOGIAC", "Tố giác tội phạm", "Crime report", 60, 20),
    Default("NGHIVAN", "Người, xe, hoạt động khả nghi", "Suspicious person or activity", 240, 3),
    Default("CUTRU", "Vi phạm cư trú", "Residence violations", 1440, 3),
    Default("TNXH", "Tệ nạn xã hội (ma túy, cờ bạc…)", "Social evils (drugs, gambling…)", 60, 20),
    Default("PCCC", "Nguy cơ cháy nổ", "Fire risk", 1440, 3),
    Default("TTCC", "Mất trật tự công cộng", "Public-order nuisance", 120, 1),
    Default("LUADAO", "Lừa đảo qua mạng, điện thoại", "Online or phone scam", 60, 5),
    Default("HOTRO", "Đề nghị hỗ trợ", "Support request", 1440, 5, team_visible=True),
    Default("KHAC", "Khác, câu hỏi, kiến nghị", "Other, questions, petitions", 1440, 5,
            team_visible=True),
)


async def ensure_defaults(db: AsyncSession) -> int:
    """Insert the default categories that are missing; returns how many were added."""
    have = set((await db.execute(select(Category.code).where(Category.area_id.is_(None))
                                 )).scalars())
    added = 0
    for pos, d in enumerate(DEFAULTS):
        if d.code in have:
            continue
        db.add(Category(code=d.code, area_id=None, name_vi=d.name_vi, name_en=d.name_en,
                        ack_minutes=d.ack_minutes, close_days=d.close_days,
                        emergency=d.emergency, team_visible=d.team_visible, position=pos))
        added += 1
    await db.flush()
    return added


async def for_area(db: AsyncSession, commune_id: int | None) -> list[Category]:
    """Active categories for a commune: its own overrides replace the defaults by code."""
    rows = (await db.execute(select(Category).where(
        (Category.area_id.is_(None)) | (Category.area_id == commune_id)))).scalars().all()
    chosen: dict[str, Category] = {}
    for c in sorted(rows, key=lambda c: c.area_id is not None):
        chosen[c.code] = c
    return sorted((c for c in chosen.values() if c.active), key=lambda c: (c.position, c.code))


async def get(db: AsyncSession, code: str, commune_id: int | None) -> Category | None:
    for c in await for_area(db, commune_id):
        if c.code == code:
            return c
    return None


def name(c: Category, lang: str) -> str:
    return c.name_en if lang == "en" else c.name_vi
