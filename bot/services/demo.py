"""Demo data: one ward with street groups and one person for every role. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import areas as areas_svc
from storage.repos import areas, people
from storage.tables import Consent

DEMO_PROVINCE = "48"  # Thành phố Đà Nẵng
DEMO_COMMUNE = "20242"  # Phường Hải Châu
DEMO_VILLAGES = ("Tổ dân phố 1", "Tổ dân phố 2", "Tổ dân phố 3")


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    role: str | None  # None: a resident
    village: int | None  # index into DEMO_VILLAGES for the home area
    label_vi: str


DEMO_PEOPLE = (
    DemoPerson("officer", "Nguyễn Văn An", "officer", None, "Cán bộ Nguyễn Văn An (công an)"),
    DemoPerson("leader", "Trần Minh Đức", "leader", None, "Trưởng công an phường Trần Minh Đức"),
    DemoPerson("village_head", "Lê Thị Hoa", "village_head", 0, "Tổ trưởng TDP 1 Lê Thị Hoa"),
    DemoPerson("host", "Phạm Văn Bình", None, 0, "Chủ nhà trọ Phạm Văn Bình"),
    DemoPerson("resident", "Võ Thị Mai", None, 1, "Người dân Võ Thị Mai"),
)


def people_for_page() -> list[dict[str, str]]:
    return [{"key": p.key, "label": p.label_vi} for p in DEMO_PEOPLE]


async def seed(db: AsyncSession, *, notice_version: str, at: datetime) -> None:
    """Create the demo ward, its street groups and the demo people (web-chat identities)."""
    await areas_svc.import_units(db, DEMO_PROVINCE)
    commune = await areas.by_code(db, DEMO_COMMUNE)
    assert commune is not None
    existing = {v.name for v in await areas.children(db, commune.id)}
    for name in DEMO_VILLAGES:
        if name.removeprefix("Tổ dân phố ").strip() not in existing:
            await areas_svc.add_village(db, parent_code=DEMO_COMMUNE, name=name, type_=None,
                                        at=at, actor="demo")
    villages = await areas.children(db, commune.id)
    for p in DEMO_PEOPLE:
        chat_id = f"demo-{p.key}"
        if await people.identity(db, "web", chat_id) is not None:
            continue
        person = await people.add_person(db, channel="web", user_id=chat_id, chat_id=chat_id,
                                         language="vi", display_name=p.name)
        person.consent = True
        person.home_area_id = villages[p.village].id if p.village is not None else commune.id
        person.phone = None
        db.add(Consent(person_id=person.id, purpose="service", notice_version=notice_version,
                       granted=True, at=at))
        if p.role:
            area_id = villages[0].id if p.role == "village_head" else commune.id
            await people.grant(db, person.id, p.role, area_id)
    await db.flush()
