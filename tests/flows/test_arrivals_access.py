"""Who sees what: officers their areas (ID on request, audited), a village head their
village (masked), a host their own guests; the officer's list, digest and chat export;
and the plain ID number nowhere it should not be: database file, logs, head's messages."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from storage.tables import AuditEntry, Delivery
from tests.flows.arrival_steps import (
    AN,
    AN_ID,
    BICH,
    BICH_ID,
    arrival_harness,
    arrival_rows,
    arrival_world,
    declare,
)
from tests.support.seed import add_staff, all_strings, audit_count

PASSPORT = "C7654321"


def _buttons(u) -> list[str]:
    sent = u.h.tg.sent_to(u.chat)[-1]
    return [b["text"] for row in (sent.reply_markup or {}).get("inline_keyboard", [])
            for b in row]


async def test_officer_list_detail_show_id_and_export(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN, BICH])
        await aw.host.press("Gửi khai báo")
        await h.deliver()
        officer = aw.w.officer.user

        await officer.send("/luutru")
        text = officer.last_text()
        assert "Đến hôm nay: 2" in text and "Nguyễn Văn An (1990)" in text
        assert "0010******21" in text and AN_ID not in text
        assert "📍 Tổ dân phố 1" in _buttons(officer)
        await officer.press("📍 Tổ dân phố 1")
        assert "Lọc: Tổ dân phố 1" in officer.last_text()

        await officer.press("🔎 LT-26-000001")
        assert AN_ID not in officer.last_text()
        await officer.press("Xem số giấy tờ khách 1")
        assert f"<code>{AN_ID}</code>" in officer.last_text()
        async with h.rt.deps.db.read() as s:
            [entry] = (await s.execute(select(AuditEntry).where(
                AuditEntry.action == "arrival.show_id"))).scalars().all()
        assert entry.actor_id == aw.w.officer.person_id
        assert entry.details == {"ref": "LT-26-000001"}  # nothing personal

        await officer.send("/luutru")
        await officer.press("Xuất CSV")
        doc = h.tg.sent_to(officer.chat)[-1]
        assert doc.filename.endswith(".csv") and doc.document
        rows = list(csv.DictReader(io.StringIO(doc.document.decode("utf-8-sig"))))
        assert [(r["Họ và tên"], r["Số định danh cá nhân / Số hộ chiếu"]) for r in rows] == \
            [("Nguyễn Văn An", AN_ID), ("Lê Thị Bích", BICH_ID)]
        await officer.send("/luutru")
        await officer.press("Xuất Excel")
        doc = h.tg.sent_to(officer.chat)[-1]
        sheet = load_workbook(io.BytesIO(doc.document)).active
        assert [c.value for c in sheet[3]][17] == BICH_ID
        assert await audit_count(h, "arrival.export") == 2


async def test_each_role_sees_only_its_own(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN])
        await aw.host.press("Gửi khai báo")
        [(arrival, [guest])] = await arrival_rows(h)
        other_officer = aw.w.other_officer.user
        head2 = (await add_staff(h, 9402, "Vũ Thị Hai", "village_head", aw.w.village2_id)).user

        await other_officer.send("/luutru")
        assert "Nguyễn Văn An" not in other_officer.last_text()
        for payload in (f"!arr:{arrival.id}", f"!arr_id:{guest.id}", f"!arr_ack:{arrival.id}",
                        f"!arr_x:csv:{aw.w.commune_id}"):
            await other_officer.press_payload(payload)
            assert "không có quyền" in other_officer.last_text(), payload

        head = aw.head
        await head.send("/luutru")
        assert "Nguyễn Văn An" in head.last_text() and "0010******21" in head.last_text()
        assert not any("Xuất" in b for b in _buttons(head))
        await head.press_payload(f"!arr:{arrival.id}")
        assert "Nguyễn Văn An" in head.last_text()
        assert not any("Xem số" in b or "tiếp nhận" in b for b in _buttons(head))
        for payload in (f"!arr_id:{guest.id}", f"!arr_ack:{arrival.id}",
                        f"!arr_x:xlsx:{aw.w.village1_id}"):
            await head.press_payload(payload)
            assert "không có quyền" in head.last_text(), payload
        await head2.send("/luutru")
        assert "Nguyễn Văn An" not in head2.last_text()
        await head2.press_payload(f"!arr:{arrival.id}")
        assert "không có quyền" in head2.last_text()

        await aw.other_host.send("/luutru")
        assert "chỉ dành cho cán bộ" in aw.other_host.last_text()
        await aw.other_host.press_payload(f"!arr:{arrival.id}")
        assert "không có quyền" in aw.other_host.last_text()
        assert await audit_count(h, "arrival.show_id") == 0


async def test_daily_digest_for_officers(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        assert await h.rt.scheduler.arrivals_digest() == 0  # nothing to say yet
        await declare(aw.host, [AN, BICH])
        await aw.host.press("Gửi khai báo")
        await h.deliver()
        # The officer, the ward's leader and the city's leader; not the village head.
        assert await h.rt.scheduler.arrivals_digest() == 3
        await h.deliver()
        text = aw.w.officer.last_text()
        assert "Khai báo mới (24 giờ qua): 1" in text and "Chưa tiếp nhận: 1" in text
        assert "Khách đến hôm nay: 2" in text
        await aw.w.officer.user.press("Xem danh sách")
        assert "Nguyễn Văn An (1990)" in aw.w.officer.last_text()
        assert "Lưu trú trong địa bàn" not in aw.head.last_text()


async def test_the_plain_number_is_never_stored_logged_or_shown_to_the_head(
        make_config, tmp_path: Path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "privacy.db"
    async with arrival_harness(make_config, f"sqlite+aiosqlite:///{path}", clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send("Nguyễn Văn An, 01/02/1991, 001090054321, nam")  # re-check too
        await host.press("Đúng, giữ nguyên")
        await host.send(BICH)
        await host.press("Khách nước ngoài")
        await host.send(f"John Smith, 05/06/1985, {PASSPORT}, nam, Mỹ")
        await host.press("DL — du lịch")
        await host.send("DL9876543")
        await host.send("20/12/2026")
        await host.press("Hôm nay")
        await host.press("Xong")
        await host.press("Thăm thân")
        await host.press("Hôm nay")
        await host.press("1 tuần")
        await host.press("Sửa khách 2")
        await host.press("Số định danh")
        await host.send(BICH_ID)
        await host.press("Gửi khai báo")
        await h.deliver()
        officer = aw.w.officer.user
        await officer.press("Chi tiết")
        for i in (1, 2, 3):
            await officer.press(f"Xem số giấy tờ khách {i}")
        assert PASSPORT in officer.last_text()
        await host.send("/khachcuatoi")
        await host.press("Gia hạn 1")
        await host.press("+1 tuần")
        await h.deliver()
        async with h.rt.deps.db.read() as s:
            payloads = [str(d.payload) for d in (await s.execute(select(Delivery))).scalars()]
        assert len(payloads) >= 3

    secrets = (AN_ID, BICH_ID, PASSPORT, "DL9876543")
    raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))
                   if p.exists())
    assert "Nguyễn Văn An".encode() in raw  # the file really holds the declaration
    for secret in secrets:
        for encoding in ("ascii", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, (secret, encoding)
        assert secret not in caplog.text, secret
        assert not any(secret in p for p in payloads)
        assert not any(secret in s for s in all_strings(h, aw.head.chat)), secret
        assert not any(secret in t for t in host.texts()), secret
