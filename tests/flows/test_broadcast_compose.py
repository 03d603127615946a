"""A leader composes prevention notices in chat over the fake Telegram server: the weekly
scam warning to two wards and their group chats in a few taps, the preview showing exactly
what recipients get and how many they are, the weekly occurrences with a controllable
clock, nobody getting one twice, the author's report and /thongke."""

from __future__ import annotations

from datetime import timedelta

from broadcasts import compose
from tests.support import bc_world
from tests.support.bc_world import flooded as harness
from tests.support.bc_world import received, round_trip

SCAM = "CẢNH BÁO LỪA ĐẢO"
HINT = "/huydangky"


async def test_weekly_scam_warning_to_two_wards_and_their_groups_in_a_few_taps(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await bc_world.world(h)
        hc = await bc_world.residents(h, w.village1_id, range(5001, 5004))
        tk = await bc_world.residents(h, w.other_commune_id, range(5101, 5103))
        await bc_world.residents(h, w.province_id, [5201])  # the city, outside both wards
        await bc_world.group(h, -1001, w.village1_id, "Tổ dân phố 1 Hải Châu")
        await bc_world.group(h, -1002, w.other_commune_id, "Khu dân cư Thanh Khê")
        boss = w.province_leader.user
        taps = 0

        async def tap(label: str) -> list:
            nonlocal taps
            taps += 1
            return await boss.press(label)

        await boss.send("/thongbao")
        await tap("Lừa đảo qua điện thoại")
        await boss.send("Hai Chau")
        await tap("Phường Hải Châu")
        await boss.send("thanh khe")
        await tap("Phường Thanh Khê")
        assert "Phường Hải Châu, Phường Thanh Khê" in boss.last_text()
        await tap("Tiếp")  # areas
        await tap("Tiếp")  # residents and group chats are preselected
        await tap("Hàng tuần")
        await tap("Thứ Hai")
        await tap("08:00")
        shown = await tap("3 tháng")
        preview, summary = shown[-2].text or "", shown[-1].text or ""
        assert SCAM in preview and "Phường Hải Châu" in preview and HINT in preview
        # Five residents, and the four police staff who live in these wards.
        assert "<b>9</b> người, <b>2</b> nhóm chat" in summary
        assert "hàng tuần vào Thứ Hai lúc 08:00" in summary
        await tap("Lên lịch")
        assert taps <= 10
        assert "Đã lên lịch thông báo" in boss.last_text()
        assert "08:00 30/11/2026" in boss.last_text()

        # Nothing before Monday 08:00; then every resident and both groups, once.
        await round_trip(h)
        assert sum(received(h, c, SCAM) for c in (5001, 5101, -1001)) == 0
        clock.now = clock.now.fromisoformat(bc_world.MONDAY_0800)
        await round_trip(h)
        for chat in (5001, 5002, 5003, 5101, 5102, -1001, -1002):
            assert received(h, chat, SCAM) == 1, chat
        assert received(h, 5201, SCAM) == 0
        hc_text = next(s.text for s in h.tg.sent_to(5001) if SCAM in (s.text or "")) or ""
        tk_text = next(s.text for s in h.tg.sent_to(5101) if SCAM in (s.text or "")) or ""
        assert "Công an Phường Hải Châu" in hc_text and "Công an Phường Thanh Khê" in tk_text
        assert hc_text.rstrip().endswith("</i>") and HINT in hc_text.splitlines()[-1]
        report = boss.last_text()
        assert "Báo cáo thông báo" in report and "Người nhận: 11" in report
        assert "Đã gửi: 11" in report

        # A second tick the same minute sends nothing again; the next Monday sends again.
        await round_trip(h)
        assert received(h, 5001, SCAM) == 1
        clock.advance(timedelta(days=7))
        await round_trip(h)
        assert received(h, 5001, SCAM) == 2 and received(h, -1002, SCAM) == 2
        assert len(hc) + len(tk) == 5

        await boss.send("/thongke")
        stats = boss.last_text()
        assert stats.count("11 người nhận · 11 đã gửi · 0 lỗi") == 2


async def test_preview_counts_and_defaults_for_a_ward_leader(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.village2_id, range(5301, 5305))
        await bc_world.residents(h, w.village1_id, [5305], opt_out=True)
        leader = w.leader.user
        await leader.send("/thongbao")
        await leader.press("Phòng cháy chữa cháy")
        assert "Đã chọn: Phường Hải Châu" in leader.last_text()  # own ward preselected
        await leader.press("Tổ dân phố 2")
        await leader.press("Phường Hải Châu")  # now only the street group
        await leader.press("Tiếp")
        await leader.press("Nhóm chat")  # off
        await leader.press("Tiếp")
        shown = await leader.press("Gửi ngay")
        summary = shown[-1].text or ""
        assert "<b>4</b> người, <b>0</b> nhóm chat" in summary
        await leader.press("Gửi ngay")
        assert "đang được gửi" in leader.last_text()
        await round_trip(h)
        assert [received(h, c, "PHÒNG CHÁY") for c in range(5301, 5306)] == [1, 1, 1, 1, 0]
        assert "Đã gửi: 4" in leader.last_text()


async def test_only_staff_who_may_compose_get_the_composer(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [5401])
        resident = h.user(5401)
        await resident.send("/thongbao")
        assert "dành cho cán bộ" in resident.last_text()
        assert compose.may_compose([("officer", w.commune_id)])
        assert not compose.may_compose([("village_head", w.village1_id)])
