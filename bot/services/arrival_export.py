"""Declarations as CSV or XLSX with every legal field, for entry into the national
residence system (there is no API). The only place besides the officer's "show ID"
button where ID numbers are decrypted; every export is written to the audit log."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.services import audit
from bot.services.arrival_notify import reason_text
from bot.services.arrivals import ID_CONTEXT, VISA_CONTEXT, unseal
from storage.crypto import FieldCipher
from storage.repos import areas
from storage.tables import Area, Arrival, Guest, Person, Place

COLUMNS = (
    ("ref", "Số tham chiếu"), ("submitted_at", "Thời điểm khai báo"),
    ("deadline", "Hạn khai báo"), ("on_time", "Đúng hạn"),
    ("acknowledged_at", "Công an tiếp nhận lúc"), ("place_kind", "Loại cơ sở lưu trú"),
    ("address", "Địa chỉ lưu trú"), ("village", "Thôn/Tổ dân phố"), ("commune", "Xã/Phường"),
    ("province", "Tỉnh/Thành phố"), ("host_name", "Người khai báo"),
    ("host_phone", "Điện thoại người khai báo"), ("full_name", "Họ và tên"),
    ("birth_date", "Ngày sinh"), ("gender", "Giới tính"), ("nationality", "Quốc tịch"),
    ("id_kind", "Loại giấy tờ"), ("id_number", "Số định danh cá nhân / Số hộ chiếu"),
    ("visa_type", "Loại thị thực"), ("visa_number", "Số thị thực"),
    ("visa_expiry", "Thị thực có giá trị đến"), ("entry_date", "Ngày nhập cảnh"),
    ("phone", "Số điện thoại"), ("reason", "Lý do lưu trú"), ("room", "Phòng/Căn hộ"),
    ("stay_from", "Lưu trú từ ngày"), ("stay_to", "Lưu trú đến ngày"),
    ("arrived_at", "Thời điểm đến"), ("ended_at", "Đã rời đi lúc"),
)
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Export:
    data: bytes
    name: str
    rows: int


def _d(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


def _dt(value: datetime | None, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%d/%m/%Y %H:%M}" if value else ""


async def _levels(db: AsyncSession, area_id: int, cache: dict[int, dict[str, str]]
                  ) -> dict[str, str]:
    if area_id not in cache:
        area = await areas.by_id(db, area_id)
        chain = await areas.ancestors(db, area) if area else []
        cache[area_id] = {a.level: areas.label(a) for a in chain}
    return cache[area_id]


async def rows(db: AsyncSession, cipher: FieldCipher, tz: ZoneInfo, area: Area,
               start: date, end: date) -> list[dict[str, str]]:
    """Every guest of the area whose stay overlaps ``start``–``end``, oldest first."""
    scope = await areas.descendant_ids(db, [area.id])
    stmt = (select(Guest, Arrival).join(Arrival, Arrival.id == Guest.arrival_id)
            .where(Arrival.area_id.in_(scope), Guest.stay_from <= end)
            .order_by(Guest.stay_from, Arrival.id, Guest.id))
    out, cache = [], {}  # type: ignore[var-annotated]
    for g, a in (await db.execute(stmt)).all():
        last = g.ended_at.astimezone(tz).date() if g.ended_at else (g.stay_to or g.stay_from)
        if last < start:
            continue
        host = await db.get(Person, a.host_id) if a.host_id else None
        place = await db.get(Place, a.place_id) if a.place_id else None
        visa = g.visa or {}
        levels = await _levels(db, a.area_id, cache)
        out.append({
            "ref": a.ref, "submitted_at": _dt(a.submitted_at, tz),
            "deadline": _dt(g.deadline_at or a.deadline_at, tz),
            "on_time": "Có" if a.submitted_at <= (g.deadline_at or a.deadline_at) else "Không",
            "acknowledged_at": _dt(a.acknowledged_at, tz),
            "place_kind": t("vi", f"arrival.place_kind.{place.kind}") if place else "",
            "address": a.address, "village": levels.get("village", ""),
            "commune": levels.get("commune", ""), "province": levels.get("province", ""),
            "host_name": host.display_name or "" if host else "",
            "host_phone": host.phone or "" if host else "",
            "full_name": g.full_name, "birth_date": _d(g.birth_date),
            "gender": t("vi", f"arrival.gender.{g.gender}"), "nationality": g.nationality,
            "id_kind": t("vi", f"arrival.id_kind.{g.id_kind}"),
            "id_number": cipher.decrypt(g.id_cipher, ID_CONTEXT, g.key_id),
            "visa_type": visa.get("type", ""),
            "visa_number": unseal(cipher, visa["number"], VISA_CONTEXT, g.key_id)
            if visa.get("number") else "",
            "visa_expiry": _d(date.fromisoformat(visa["expiry"])) if visa.get("expiry") else "",
            "entry_date": _d(date.fromisoformat(visa["entry"])) if visa.get("entry") else "",
            "phone": g.phone or "", "reason": reason_text(g, "vi"), "room": g.room or "",
            "stay_from": _d(g.stay_from), "stay_to": _d(g.stay_to),
            "arrived_at": _dt(g.arrived_at, tz), "ended_at": _dt(g.ended_at, tz)})
    return out


def to_csv(data: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([label for _, label in COLUMNS])
    writer.writerows([row[key] for key, _ in COLUMNS] for row in data)
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets Excel read the accents


def to_xlsx(data: list[dict[str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Luu tru"
    ws.append([label for _, label in COLUMNS])
    for row in data:
        ws.append([row[key] for key, _ in COLUMNS])  # text cells: ID numbers keep leading 0
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def export(db: AsyncSession, cipher: FieldCipher, tz: ZoneInfo, *, area: Area,
                 start: date, end: date, fmt: str, now: datetime, actor_id: int | None = None,
                 actor_label: str = "") -> Export:
    """The file, named for the area and period; audited (counts only, no personal data)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    data = await rows(db, cipher, tz, area, start, end)
    body = to_csv(data) if fmt == "csv" else to_xlsx(data)
    audit.record(db, "arrival.export", at=now, actor_id=actor_id, actor_label=actor_label,
                 object_type="area", object_id=area.code, rows=len(data), format=fmt,
                 start=start.isoformat(), end=end.isoformat())
    return Export(body, f"luu-tru-{area.code}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}", len(data))
