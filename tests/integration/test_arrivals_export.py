"""Declarations at the service level on SQLite and PostgreSQL: submit, export as CSV and
XLSX (opened with csv/openpyxl and checked field by field), the CLI, and the purge."""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.cli.main import main
from bot.config import Config
from bot.services import areas as areas_svc
from bot.services import arrival_export, arrival_jobs, arrivals, timers
from bot.services.id_numbers import hash_key, mask
from storage.crypto import FieldCipher, generate_key
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import Arrival, AuditEntry, Delivery, Guest, Person, Timer

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
AN_ID, PASSPORT, VISA = "001090054321", "C1234567", "DL9876543"


def guest(cipher: FieldCipher, name: str, number: str, *, start: date, end: date,
          foreign: bool = False, **extra: Any) -> dict[str, Any]:
    """A completed draft guest, as the chat flow leaves it (numbers sealed)."""
    kind = "passport" if foreign else "cccd"
    g = {"foreign": foreign, "name": name, "dob": "1990-02-01", "gender": "m", "nat": "VN",
         "id_enc": arrivals.seal(cipher, number, arrivals.DRAFT_CONTEXT),
         "id_hash": cipher.keyed_hash(hash_key(kind, number)), "id_mask": mask(number),
         "phone": "", "reason": "family", "reason_note": "", "room": "",
         "from": start.isoformat(), "to": end.isoformat(),
         "arrived": datetime.combine(start, datetime.min.time(), UTC).replace(
             hour=3).isoformat()}
    g.update(extra)
    return g


async def world(db: Database, config: Config) -> dict[str, Any]:
    async with db.uow() as s:
        await areas_svc.import_units(s, "48")
        village = await areas_svc.add_village(s, parent_code="20242", name="Tổ dân phố 1",
                                              type_=None, at=NOW, actor="test")
        other = await areas.by_code(s, "20209")
        assert other is not None
        host = await people.add_person(s, channel="telegram", user_id="1001", chat_id="1001",
                                       language="vi", display_name="Trần Thị Hoa")
        host.phone = "+84912000111"
        officer = await people.add_person(s, channel="telegram", user_id="9001",
                                          chat_id="9001", language="vi")
        await people.grant(s, officer.id, "officer", village.parent_id or 0)
        place = await arrivals.add_place(s, host_id=host.id, area_id=village.id,
                                         kind="rental", address="Hẻm 45/7 Lê Lợi", now=NOW)
        far = await arrivals.add_place(s, host_id=host.id, area_id=other.id,
                                       kind="household", address="9 Hà Huy Tập", now=NOW)
        return {"host": host.id, "officer": officer.id, "place": place.id, "far": far.id,
                "village": village.code}


async def submit(db: Database, config: Config, cipher: FieldCipher, host_id: int,
                 place_id: int, guests: list[dict[str, Any]], now: datetime = NOW
                 ) -> arrivals.Submitted:
    async with db.uow() as s:
        host = await s.get(Person, host_id)
        assert host is not None
        return await arrivals.submit(s, config=config, cipher=cipher, host=host,
                                     draft={"place_id": place_id, "guests": guests}, now=now)


@pytest.fixture
def config(make_config, db_url: str) -> Config:
    return make_config(db_url)


@pytest.fixture
def cipher(config: Config) -> FieldCipher:
    return FieldCipher(config.security.data_key)


async def test_export_has_every_legal_field(database: Database, config: Config,
                                            cipher: FieldCipher) -> None:
    w = await world(database, config)
    start = date(2026, 11, 23)
    local_guest = guest(cipher, "Nguyễn Văn An", AN_ID, start=start, end=date(2026, 11, 30),
                        phone="+84905123456", reason="other", reason_note="Chăm người ốm",
                        room="P.203")
    visa = {"type": "DL", "no_enc": arrivals.seal(cipher, VISA, arrivals.DRAFT_CONTEXT),
            "no_mask": mask(VISA), "expiry": "2026-12-20", "entry": "2026-11-22"}
    foreigner = guest(cipher, "John Smith", PASSPORT, start=start, end=date(2026, 11, 25),
                      foreign=True, nat="US", visa=visa, gender="m", dob="1985-06-05",
                      reason="tourism", room="P.101")
    done = await submit(database, config, cipher, w["host"], w["place"],
                        [local_guest, foreigner])
    assert done.officers == [w["officer"]] and done.heads == []
    await submit(database, config, cipher, w["host"], w["far"],  # another commune
                 [guest(cipher, "Ở Xa", "048301004321", start=start, end=start)])
    await submit(database, config, cipher, w["host"], w["place"],  # long before the period
                 [guest(cipher, "Đã Đi", "079075000111", start=date(2026, 1, 2),
                        end=date(2026, 1, 5))], now=datetime(2026, 1, 2, 3, tzinfo=UTC))

    async with database.uow() as s:
        commune = await areas.by_code(s, "20242")
        assert commune is not None
        a = await s.get(Arrival, done.arrival.id)
        assert a is not None
        a.acknowledged_at = NOW + timedelta(minutes=30)
        out_csv = await arrival_export.export(s, cipher, config.bot.tz, area=commune,
                                              start=date(2026, 11, 1),
                                              end=date(2026, 11, 30), fmt="csv", now=NOW,
                                              actor_label="test")
        out_xlsx = await arrival_export.export(s, cipher, config.bot.tz, area=commune,
                                               start=date(2026, 11, 1),
                                               end=date(2026, 11, 30), fmt="xlsx", now=NOW,
                                               actor_label="test")
    assert out_csv.name == "luu-tru-20242-20261101-20261130.csv" and out_csv.rows == 2
    rows = list(csv.DictReader(io.StringIO(out_csv.data.decode("utf-8-sig"))))
    expected_common = {
        "Số tham chiếu": done.arrival.ref, "Thời điểm khai báo": "23/11/2026 10:00",
        "Công an tiếp nhận lúc": "23/11/2026 10:30",
        "Loại cơ sở lưu trú": "Nhà trọ (phòng cho thuê)", "Địa chỉ lưu trú": "Hẻm 45/7 Lê Lợi",
        "Thôn/Tổ dân phố": "Tổ dân phố 1", "Xã/Phường": "Phường Hải Châu",
        "Tỉnh/Thành phố": "Thành phố Đà Nẵng", "Người khai báo": "Trần Thị Hoa",
        "Điện thoại người khai báo": "+84912000111", "Thời điểm đến": "23/11/2026 10:00",
        "Lưu trú từ ngày": "23/11/2026", "Đã rời đi lúc": ""}
    assert rows[0] == {**expected_common,
                       "Hạn khai báo": "23/11/2026 23:00", "Đúng hạn": "Có",
                       "Họ và tên": "Nguyễn Văn An", "Ngày sinh": "01/02/1990",
                       "Giới tính": "Nam", "Quốc tịch": "VN", "Loại giấy tờ": "Số định danh",
                       "Số định danh cá nhân / Số hộ chiếu": AN_ID, "Loại thị thực": "",
                       "Số thị thực": "", "Thị thực có giá trị đến": "", "Ngày nhập cảnh": "",
                       "Số điện thoại": "+84905123456", "Lý do lưu trú": "Khác: Chăm người ốm",
                       "Phòng/Căn hộ": "P.203", "Lưu trú đến ngày": "30/11/2026"}
    assert rows[1] == {**expected_common,
                       "Hạn khai báo": "23/11/2026 22:00", "Đúng hạn": "Có",
                       "Họ và tên": "John Smith", "Ngày sinh": "05/06/1985",
                       "Giới tính": "Nam", "Quốc tịch": "US", "Loại giấy tờ": "Hộ chiếu",
                       "Số định danh cá nhân / Số hộ chiếu": PASSPORT, "Loại thị thực": "DL",
                       "Số thị thực": VISA, "Thị thực có giá trị đến": "20/12/2026",
                       "Ngày nhập cảnh": "22/11/2026", "Số điện thoại": "",
                       "Lý do lưu trú": "Du lịch", "Phòng/Căn hộ": "P.101",
                       "Lưu trú đến ngày": "25/11/2026"}
    assert list(rows[0]) == [label for _, label in arrival_export.COLUMNS]

    sheet = load_workbook(io.BytesIO(out_xlsx.data)).active
    assert sheet is not None
    values = [[c.value if c.value is not None else "" for c in row] for row in sheet.rows]
    assert values[0] == [label for _, label in arrival_export.COLUMNS]
    assert values[1:] == [list(r.values()) for r in rows]
    assert sheet.cell(2, 18).data_type == "s"  # text: the leading zero stays

    async with database.read() as s:
        audits = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "arrival.export").order_by(AuditEntry.id))).scalars().all()
    assert [a.details for a in audits] == [
        {"rows": 2, "format": f, "start": "2026-11-01", "end": "2026-11-30"}
        for f in ("csv", "xlsx")]
    assert all(a.object_id == "20242" and a.actor_label == "test" for a in audits)


async def test_purge_removes_only_what_has_outlived_retention(
        database: Database, config: Config, cipher: FieldCipher) -> None:
    w = await world(database, config)
    start = date(2026, 11, 23)
    short = await submit(database, config, cipher, w["host"], w["place"],
                         [guest(cipher, "Ở Ngắn", AN_ID, start=start, end=start)])
    long_ = await submit(database, config, cipher, w["host"], w["place"],
                         [guest(cipher, "Ở Dài", PASSPORT, start=start,
                                end=date(2027, 3, 1), foreign=True, nat="US")])
    async with database.uow() as s:
        g = (await s.execute(select(Guest).where(Guest.arrival_id == long_.arrival.id))
             ).scalar_one()
        a = await s.get(Arrival, long_.arrival.id)
        assert a is not None
        await arrivals.end_stay(s, g, a, config=config, actor_id=w["host"],
                                now=datetime(2026, 12, 1, 3, tzinfo=UTC))  # left early
    async with database.read() as s:
        due = {a.ref: a.purge_after for a in (await s.execute(select(Arrival))).scalars()}
    assert due[short.arrival.ref] == datetime(2027, 11, 23, 17, 0, tzinfo=UTC)  # 365 days
    assert due[long_.arrival.ref] == datetime(2027, 12, 1, 17, 0, tzinfo=UTC)

    async with database.uow() as s:
        assert await arrival_jobs.purge(s, datetime(2027, 11, 23, 16, 59, tzinfo=UTC)) == 0
        assert await arrival_jobs.purge(s, datetime(2027, 11, 25, tzinfo=UTC)) == 1
        await timers.schedule(s, "other_kind", "1", NOW)  # not ours: kept
    async with database.read() as s:
        refs = [a.ref for a in (await s.execute(select(Arrival))).scalars()]
        n_guests = (await s.execute(select(func.count()).select_from(Guest))).scalar_one()
        ours = (await s.execute(select(func.count()).select_from(Delivery).where(
            Delivery.dedupe_key.like(f"arr:{short.arrival.id}:%")))).scalar_one()
        left_timers = (await s.execute(select(Timer.kind, Timer.ref))).all()
    assert refs == [long_.arrival.ref] and n_guests == 1 and ours == 0
    assert ("arr_end", "1") not in left_timers and ("other_kind", "1") in left_timers


def test_cli_exports_to_a_private_file(make_config, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    key = generate_key()
    config = make_config(url, security={"data_key": key})
    cipher = FieldCipher(key)

    async def prepare() -> None:
        db = Database(make_engine(url))
        await db.upgrade()
        try:
            w = await world(db, config)
            await submit(db, config, cipher, w["host"], w["place"],
                         [guest(cipher, "Nguyễn Văn An", AN_ID, start=date(2026, 11, 23),
                                end=date(2026, 11, 24))])
        finally:
            await db.close()

    asyncio.run(prepare())
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n[security]\ndata_key = "{key}"\n'
                   f'[bot]\ndata_dir = "{tmp_path / "data"}"\n', "utf-8")
    out = tmp_path / "guests.xlsx"
    assert main(["--config", str(cfg), "export", "arrivals", "--area", "20242", "--from",
                 "2026-11-01", "--to", "30/11/2026", "--format", "xlsx", "--out",
                 str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sheet = load_workbook(out).active
    assert sheet is not None
    assert [sheet.cell(2, 13).value, sheet.cell(2, 18).value] == ["Nguyễn Văn An", AN_ID]
    csv_out = tmp_path / "guests.csv"
    assert main(["--config", str(cfg), "export", "arrivals", "--area", "20242", "--from",
                 "01/12/2026", "--to", "2026-12-31", "--out", str(csv_out)]) == 0
    assert csv_out.read_bytes().decode("utf-8-sig").count("\n") == 1  # the header only
    assert main(["--config", str(cfg), "export", "arrivals", "--area", "99999", "--from",
                 "2026-11-01", "--to", "2026-11-30"]) == 1
    assert main(["--config", str(cfg), "export", "arrivals", "--area", "20242", "--from",
                 "hôm qua", "--to", "2026-11-30"]) == 1


async def test_the_village_officer_comes_first_and_the_head_is_told(
        database: Database, config: Config, cipher: FieldCipher) -> None:
    w = await world(database, config)
    async with database.uow() as s:
        village = await areas.by_code(s, w["village"])
        assert village is not None
        ids = []
        for uid, role in (("9101", "officer"), ("9102", "village_head")):
            p = await people.add_person(s, channel="telegram", user_id=uid, chat_id=uid,
                                        language="en")
            await people.grant(s, p.id, role, village.id)
            ids.append(p.id)
    start = date(2026, 11, 23)
    done = await submit(database, config, cipher, w["host"], w["place"],
                        [guest(cipher, "Nguyễn Văn An", AN_ID, start=start, end=start)])
    assert (done.officers, done.heads) == ([ids[0]], [ids[1]])  # not the commune officer
    async with database.read() as s:
        sent = (await s.execute(select(Delivery.kind, Delivery.person_id, Delivery.payload)
                                .order_by(Delivery.id))).all()
    assert [(k, p) for k, p, _ in sent] == [("arr_notify", ids[0]), ("arr_head", ids[1])]
    head_text = str(sent[1][2])
    assert "New guests in your village" in head_text and AN_ID not in head_text
    assert "0010******21" in head_text
