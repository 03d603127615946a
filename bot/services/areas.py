"""Administrative units in the database: import from the packaged data file, add villages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.text import fold, nfc
from storage.admin_units import load_units
from storage.repos import areas
from storage.tables import Area

VILLAGE_TYPES = ("Thôn", "Ấp", "Bản", "Tổ dân phố", "Khu phố", "Buôn", "Làng", "Xóm")


async def import_units(db: AsyncSession, province: str | None = None) -> tuple[int, int]:
    """Insert or rename provinces and communes; returns (added, updated). Idempotent."""
    units = load_units()
    chosen = [units.province(province)] if province else list(units.provinces)
    existing = {a.code: a for a in (await db.execute(select(Area).where(
        Area.level.in_(("province", "commune"))))).scalars()}
    added = updated = 0
    for prov in chosen:
        p_row = existing.get(prov.code)
        if p_row is None:
            p_row = Area(code=prov.code, level="province", name=prov.name, type=prov.type,
                         key=fold(prov.full_name))
            db.add(p_row)
            added += 1
        elif (p_row.name, p_row.type) != (prov.name, prov.type):
            p_row.name, p_row.type, p_row.key = prov.name, prov.type, fold(prov.full_name)
            updated += 1
        await db.flush()
        for c in prov.communes:
            row = existing.get(c.code)
            if row is None:
                db.add(Area(code=c.code, level="commune", name=c.name, type=c.type,
                            key=fold(c.full_name), parent_id=p_row.id))
                added += 1
            elif (row.name, row.type, row.parent_id) != (c.name, c.type, p_row.id):
                row.name, row.type, row.parent_id = c.name, c.type, p_row.id
                row.key = fold(c.full_name)
                updated += 1
    await db.flush()
    return added, updated


async def add_village(db: AsyncSession, *, parent_code: str, name: str, type_: str | None,
                      at: datetime, actor: str = "cli") -> Area:
    """Add a village or street group under a commune (they are in no national list)."""
    commune = await areas.by_code(db, parent_code)
    if commune is None or commune.level != "commune":
        raise ValueError(f"no commune with code {parent_code!r}")
    clean = nfc(name)
    if not clean:
        raise ValueError("the name is empty")
    kind = type_ or next((t for t in VILLAGE_TYPES if fold(clean).startswith(fold(t) + " ")),
                         "Thôn" if commune.type == "Xã" else "Tổ dân phố")
    if fold(clean).startswith(fold(kind) + " "):
        clean = clean[len(kind):].strip()
    for child in await areas.children(db, commune.id):
        if child.key == fold(f"{kind} {clean}"):
            raise ValueError(f"{kind} {clean} already exists in {areas.label(commune)}")
    code = await areas.next_village_code(db, commune)
    village = await areas.add(db, code=code, name=clean, type_=kind, level="village",
                              parent=commune)
    audit.record(db, "area.add", at=at, actor_label=actor, object_type="area", object_id=code)
    return village
