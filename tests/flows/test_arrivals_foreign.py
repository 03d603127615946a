"""Foreign guests: passport, nationality, visa and entry date; declared within 12 hours
of arrival (``[arrivals] foreigner_hours``), where a Vietnamese guest has until 23:00."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.services.arrivals import ID_CONTEXT, VISA_CONTEXT, unseal
from tests.flows.arrival_steps import AN, arrival_harness, arrival_rows, arrival_world, ref_in

PASSPORT = "C1234567"
VISA = "DL9876543"


async def test_foreign_guest_field_by_field_with_a_12_hour_deadline(
        make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.press("Khách nước ngoài")
        assert "hộ chiếu" in host.last_text()
        await host.send("John Smith")
        await host.send("05/06/1985")
        await host.press("Nam")
        await host.send("Narnia")
        assert "Không nhận ra quốc tịch" in host.texts()[-2]
        await host.press("Hoa Kỳ")
        assert "Số hộ chiếu của John Smith" in host.last_text()
        await host.send("C12")
        assert "6–12 chữ cái và chữ số" in host.texts()[-2]
        await host.send("c123 4567")
        await host.press("DL — du lịch")
        await host.send(VISA)
        await host.send("20/12/2026")
        await host.press("Hôm nay")
        await host.press("Bỏ qua")  # no phone
        assert "Đã thêm <b>John Smith</b> (<code>C1****67</code>)" in host.last_text()
        await host.press("Xong")
        await host.press("Du lịch")
        await host.press("Hôm nay")
        await host.press("1 tuần")
        review = host.last_text()
        assert "Hộ chiếu: <code>C1****67</code>" in review
        assert "Quốc tịch US · thị thực DL số DL*****43" in review
        assert "trước 22:00 23/11/2026" in review  # 12 hours, not 23:00
        assert PASSPORT not in review and VISA not in review
        await host.press("Gửi khai báo")
        ref = ref_in(host.texts())
        assert "Đúng hạn (hạn chót 22:00 23/11/2026)" in "\n".join(host.texts()[-3:])

        [(arrival, [guest])] = await arrival_rows(h)
        assert arrival.ref == ref
        assert arrival.deadline_at == clock.now + timedelta(hours=12)
        assert (guest.id_kind, guest.nationality, guest.id_mask) == ("passport", "US",
                                                                     "C1****67")
        cipher = h.rt.deps.cipher
        assert cipher.decrypt(guest.id_cipher, ID_CONTEXT, guest.key_id) == PASSPORT
        visa = guest.visa or {}
        assert VISA not in str(visa)
        assert unseal(cipher, visa["number"], VISA_CONTEXT, guest.key_id) == VISA
        assert (visa["type"], visa["expiry"], visa["entry"]) == ("DL", "2026-12-20",
                                                                 "2026-11-23")
        await h.deliver()
        note = aw.w.officer.last_text()
        assert "Hộ chiếu <code>C1****67</code>" in note and PASSPORT not in note


async def test_foreigner_in_one_line_and_late_after_12_hours(make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 20:00 in Hà Nội
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.press("Khách nước ngoài")
        await host.send("Kim Min-jun, 07/07/1992, M12345678, nam, Hàn Quốc")
        assert "Loại thị thực" in host.last_text()  # only the visa is left to ask
        await host.press("Miễn thị thực")
        assert "có giá trị đến" in host.last_text()  # no number for an exemption
        await host.send("01/12/2026")
        await host.send("23/11/2026")
        assert "Đã thêm <b>Kim Min-jun</b>" in host.last_text()  # a line: no phone asked
        await host.send(AN)  # a Vietnamese guest in the same declaration
        await host.press("Xong")
        await host.press("Du lịch")
        await host.send("23/11/2026 07:00")  # both arrived at 07:00
        assert "rạng sáng" not in host.texts()[-2]  # a foreigner's 12 hours apply
        await host.press("2 đêm")
        assert "Đã quá hạn khai báo (19:00 23/11/2026)" in host.last_text()
        await host.press("Gửi khai báo")
        assert "Trễ hạn: hạn chót là 19:00 23/11/2026" in "\n".join(host.texts()[-3:])
        [(arrival, guests)] = await arrival_rows(h)
        assert not arrival.on_time
        foreign, local = guests
        assert foreign.nationality == "KR" and (foreign.visa or {}).get("type") == "MTT"
        assert foreign.deadline_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        assert local.deadline_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 23:00
        assert local.stay_from == date(2026, 11, 23)
