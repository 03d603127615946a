"""Declaring guests (/khaibao) over the fake Telegram server: the quick multi-guest path,
registering a place, bad input kept, the ID re-check, late declarations, editing in the
review, and the officer's and village head's notices. The main dialog also runs on
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.services.arrivals import ID_CONTEXT
from storage.tables import Place
from tests.flows.arrival_steps import (
    AN,
    AN_ID,
    BICH,
    BICH_ID,
    arrival_harness,
    arrival_rows,
    arrival_world,
    declare,
    ref_in,
)
from tests.support.seed import all_strings, deliveries


async def test_two_guests_in_under_ten_messages_then_officer_and_head_know(
        make_config, db_url, clock):
    async with arrival_harness(make_config, db_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host

        sent = await declare(host, [AN, BICH])
        review = host.last_text()
        assert "Nguyễn Văn An" in review and "Lê Thị Bích" in review
        assert "0010******21" in review and AN_ID not in review
        assert "trước 23:00 23/11/2026" in review  # 10:00 local: today, 23:00
        await host.press("Gửi khai báo")
        sent += 1
        assert sent < 10, sent  # /khaibao, 2 lines, Xong, reason, today, 1 night, send
        confirmation = "\n".join(host.texts()[-3:])
        ref = ref_in(host.texts())
        assert ref == "LT-26-000001"
        assert "Đúng hạn" in confirmation and "VNeID" in confirmation
        assert "Công an Phường Hải Châu" in confirmation
        assert "Họ và tên: Lê Thị Bích" in confirmation  # the summary to copy
        assert AN_ID not in confirmation and BICH_ID not in confirmation

        [(arrival, guests)] = await arrival_rows(h)
        assert arrival.on_time and arrival.area_id == aw.w.village1_id
        assert arrival.deadline_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
        assert [g.full_name for g in guests] == ["Nguyễn Văn An", "Lê Thị Bích"]
        cipher = h.rt.deps.cipher
        assert [cipher.decrypt(g.id_cipher, ID_CONTEXT, g.key_id) for g in guests] == \
            [AN_ID, BICH_ID]
        assert [g.id_mask for g in guests] == ["0010******21", "0483******21"]
        assert guests[1].birth_date == date(2001, 8, 15) and guests[1].gender == "f"
        assert {g.reason for g in guests} == {"family"}
        assert {(g.stay_from, g.stay_to) for g in guests} == \
            {(date(2026, 11, 23), date(2026, 11, 24))}

        rows = await deliveries(h)
        assert sorted((d.kind, d.person_id) for d in rows) == sorted([
            ("arr_notify", aw.w.officer.person_id),
            ("arr_head", aw.head_id)])
        assert await h.deliver() == 2
        officer = aw.w.officer.user
        note = officer.last_text()
        assert ref in note and "Trần Thị Hoa" in note and "0010******21" in note
        assert AN_ID not in note
        head_note = aw.head.last_text()
        assert ref in head_note and "0483******21" in head_note
        assert not any(i in s for s in all_strings(h, aw.head.chat) for i in (AN_ID, BICH_ID))

        await officer.press("Đã tiếp nhận")
        assert "chủ nhà đã được báo" in officer.last_text()
        await h.deliver()
        assert "Đã tiếp nhận" in host.last_text() and ref in host.last_text()
        [(arrival, _)] = await arrival_rows(h)
        assert arrival.acknowledged_by == aw.w.officer.person_id


async def test_first_declaration_registers_the_place_once(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h, place=False)
        host = aw.host
        await host.send("/khaibao")
        assert "chưa đăng ký nơi lưu trú" in host.last_text()
        await host.press("Nhà trọ")
        assert "Tổ dân phố 1, Phường Hải Châu" in host.last_text()
        await host.send("x")
        assert "Hãy gõ địa chỉ" in "\n".join(host.texts()[-2:])
        await host.send("Hẻm 45/7 Lê Lợi")
        assert "Đã đăng ký nơi lưu trú" in "\n".join(host.texts()[-2:])
        await host.send(AN)
        await host.press("Xong")
        await host.press("Thuê trọ")
        await host.press("Hôm nay")
        await host.press("1 tháng")
        assert "Phòng / căn hộ" in host.last_text()  # rented rooms: the room is asked
        await host.send("P.203")
        assert "phòng: P.203" in host.last_text()
        await host.press("Gửi khai báo")
        async with h.rt.deps.db.read() as s:
            [place] = (await s.execute(select(Place))).scalars().all()
        assert (place.kind, place.address, place.area_id) == \
            ("rental", "Hẻm 45/7 Lê Lợi", aw.w.village1_id)
        [(_, [guest])] = await arrival_rows(h)
        assert guest.room == "P.203" and guest.reason == "renting"

        await host.send("/khaibao")  # the next time the place is known
        assert "Nơi lưu trú: <b>Hẻm 45/7 Lê Lợi</b>" in host.last_text()


async def test_field_by_field_bad_input_is_explained_and_the_rest_kept(
        make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send("Nguyễn Văn An")
        assert "Ngày sinh của Nguyễn Văn An" in host.last_text()
        await host.send("31/02/1990")
        assert "Không đọc được ngày" in host.texts()[-2]
        await host.send("01/02/1990")
        await host.press("Nam")
        assert "Số định danh cá nhân" in host.last_text()
        for bad, why in (("00109001234", "bạn đã gõ 11 chữ số"),
                         ("00109001234A", "chỉ gồm chữ số"),
                         ("003090012345", "(003) không phải mã tỉnh"),
                         ("025195123", "CMND 9 số")):
            await host.send(bad)
            assert why in host.texts()[-2], host.texts()[-2:]
            assert "Số định danh cá nhân (12 chữ số" in host.last_text()  # asked again
        await host.send("001 090 012 345")
        assert "Số điện thoại của khách" in host.last_text()
        await host.send("12345")
        assert "không hợp lệ" in host.texts()[-2]
        await host.send("0905 123 456")
        assert "Đã thêm <b>Nguyễn Văn An</b>" in host.last_text()
        await host.press("Xong")
        await host.press("Công tác")
        await host.press("Hôm nay")
        await host.send("20/11/2026")  # before the arrival
        assert "từ ngày đến (23/11/2026) trở về sau" in host.texts()[-2]
        await host.send("30/11/2026")
        assert "0905 123 456" not in host.last_text()  # shown as stored (E.164)
        assert "+84905123456" in host.last_text() and "30/11/2026" in host.last_text()


async def test_a_bad_id_in_one_line_asks_only_for_the_id(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send("Nguyễn Văn An, 01/02/1990, 00109001234A, nam")
        assert "chỉ gồm chữ số" in host.texts()[-2]
        assert "Số định danh cá nhân" in host.last_text()
        await host.send(AN_ID)
        assert "Đã thêm <b>Nguyễn Văn An</b>" in host.last_text()  # nothing else asked


async def test_birth_year_mismatch_asks_to_recheck_and_the_host_may_confirm(
        make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send("Nguyễn Văn An, 01/02/1991, 001090054321, nam")
        text = host.last_text()
        assert "Hãy kiểm tra lại" in text and "năm sinh 1990" in text and "1991" in text
        await host.press("Sửa ngày sinh")
        await host.send("01/02/1989")  # still wrong: asked again
        assert "Hãy kiểm tra lại" in host.last_text()
        await host.press("Đúng, giữ nguyên")
        assert "Đã thêm" in host.last_text()
        await host.press("Xong")
        await host.press("Thăm thân")
        await host.press("Hôm nay")
        await host.press("2 đêm")
        assert "⚠️" in host.last_text()
        await host.press("Gửi khai báo")
        [(_, [guest])] = await arrival_rows(h)
        assert guest.id_mismatch and guest.birth_date == date(1989, 2, 1)
        await h.deliver()
        assert "0010******21</code> ⚠️" in aw.w.officer.last_text()


async def test_gender_mismatch_fixed_needs_no_confirmation(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send("Lê Thị Bích, 15/08/2001, 048301004321, nam")
        assert "giới tính Nữ" in host.last_text()
        await host.press("Sửa giới tính")
        await host.press("Nữ")
        assert "Đã thêm <b>Lê Thị Bích</b>" in host.last_text()


async def test_late_declarations_say_so(make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await declare(host, [AN], start="22/11/2026")  # yesterday: due 23:00 yesterday
        assert "Đã quá hạn khai báo (23:00 22/11/2026)" in host.last_text()
        await host.press("Gửi khai báo")
        assert "Trễ hạn: hạn chót là 23:00 22/11/2026" in "\n".join(host.texts()[-3:])
        await declare(host, [BICH], start="22/11/2026 23:30")  # late arrival: due 08:00
        await host.press("Gửi khai báo")
        assert "Trễ hạn: hạn chót là 08:00 23/11/2026" in "\n".join(host.texts()[-3:])
        rows = await arrival_rows(h)
        assert [a.on_time for a, _ in rows] == [False, False]
        await h.deliver()
        assert "Trễ hạn" in aw.w.officer.last_text()


async def test_arrival_after_23_declared_before_8_is_on_time(make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN], start="22/11/2026 23:30")
        await aw.host.press("Gửi khai báo")
        assert "Đúng hạn (hạn chót 08:00 23/11/2026)" in "\n".join(aw.host.texts()[-3:])


async def test_small_hours_arrival_reminds_at_once(make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)  # 02:00 on 23/11 in Hà Nội
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await aw.host.send("/khaibao")
        await aw.host.send(AN)
        await aw.host.press("Xong")
        await aw.host.press("Thăm thân")
        await aw.host.press("Hôm nay")
        assert "rạng sáng: hãy khai báo ngay, hạn chót 23:00 23/11/2026" in \
            aw.host.texts()[-2]
        clock.advance(minutes=31)  # still unfinished: reminded at once, not near 23:00
        assert await h.tick() == 1
        await h.deliver()
        assert "chưa gửi xong khai báo lưu trú" in aw.host.last_text()


async def test_review_edits_one_guest_adds_and_removes(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await declare(host, [AN, BICH])
        await host.press("Sửa khách 2")
        await host.press("Họ tên")
        await host.send("Lê Thị Ngọc Bích")
        assert "Lê Thị Ngọc Bích" in host.last_text()
        await host.press("Sửa khách 2")
        await host.press("Ngày đi")
        await host.press("1 tuần")
        review = host.last_text()
        assert "23/11/2026 → 30/11/2026" in review and "23/11/2026 → 24/11/2026" in review
        await host.press("Thêm khách")
        await host.send("Phạm Văn Cường, 03/04/1975, 079075000111, nam")
        review = host.last_text()
        assert "3. <b>Phạm Văn Cường</b>" in review  # back at the review, stay inherited
        await host.press("Sửa khách 1")
        await host.press("Bỏ khách này")
        await host.press("Gửi khai báo")
        [(_, guests)] = await arrival_rows(h)
        assert [(g.full_name, g.stay_to) for g in guests] == [
            ("Lê Thị Ngọc Bích", date(2026, 11, 30)), ("Phạm Văn Cường", date(2026, 11, 24))]


async def test_discarding_a_draft(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send(AN)
        await host.press("Hủy khai báo")
        await host.press("Quay lại")
        assert "Khách thứ 2" in host.last_text()  # back where the host was
        await host.press("Hủy khai báo")
        await host.press("Hủy bản khai báo")
        assert "Đã hủy" in "\n".join(host.texts()[-2:])
        assert await arrival_rows(h) == []


async def test_a_newcomer_is_onboarded_then_brought_back_to_the_declaration(
        make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        await arrival_world(h)
        u = h.user(1500, "Mai")
        await u.send("/khaibao")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        if "tỉnh/thành phố" in u.last_text():
            await u.send("Đà Nẵng")
            await u.press("Thành phố Đà Nẵng")
        await u.send("Hai Chau")
        await u.press("Phường ")
        await u.press("Tổ dân phố 1")
        await u.press("Bỏ qua")
        assert "chưa đăng ký nơi lưu trú" in u.last_text(), u.texts()[-3:]
