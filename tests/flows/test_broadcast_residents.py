"""What residents get: quiet hours (routine notices wait, urgent ones do not), /huydangky
and /dangky, topics picked in /caidat, the opt-out hint, and a template error caught at
the preview before anything is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import bc_world
from tests.support.bc_world import flooded as harness
from tests.support.bc_world import received, round_trip

NIGHT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 22:00 in Hanoi: quiet hours
FIRE, SCAM, NOTICE = "PHÒNG CHÁY", "LỪA ĐẢO", "THÔNG BÁO CỦA CÔNG AN"


async def test_quiet_hours_postpone_routine_notices_and_urgent_ones_go_at_once(
        make_config, sqlite_url, clock):
    clock.now = NIGHT
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [7001])
        await bc_world.residents(h, w.commune_id, [7002], opt_out=True)
        leader = w.leader.user
        await leader.send("/thongbao")
        await leader.press("Phòng cháy chữa cháy")
        await leader.press("Tiếp")
        await leader.press("Tiếp")
        shown = await leader.press("Gửi ngay")
        assert "giờ yên tĩnh (21:30–06:30)" in (shown[-1].text or "")
        await leader.press("Gửi ngay")
        await round_trip(h)
        assert received(h, 7001, FIRE) == 0  # waits for 06:30
        await bc_world.notice(h, w, "scams", urgent=True)
        await round_trip(h)
        # Urgent: now, and even to the resident who unsubscribed.
        assert received(h, 7001, SCAM) == 1 and received(h, 7002, SCAM) == 1
        assert "KHẨN" in h.tg.sent_to(7001)[-1].text
        clock.now = datetime(2026, 11, 23, 23, 29, tzinfo=UTC)  # 06:29
        await round_trip(h)
        assert received(h, 7001, FIRE) == 0
        clock.advance(minutes=1)
        await round_trip(h)
        assert received(h, 7001, FIRE) == 1 and received(h, 7002, FIRE) == 0


async def test_a_long_notice_still_sending_at_quiet_time_waits_for_the_morning(
        make_config, sqlite_url, clock):
    clock.now = datetime(2026, 11, 23, 14, 25, tzinfo=UTC)  # 21:25
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, range(7101, 7104))
        await bc_world.notice(h, w, "fire")
        await h.tick()  # rows written at 21:25, not sent yet
        clock.advance(minutes=6)  # 21:31
        await round_trip(h)
        assert sum(received(h, c, FIRE) for c in range(7101, 7104)) == 0
        clock.now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 06:30
        await round_trip(h)
        assert [received(h, c, FIRE) for c in range(7101, 7104)] == [1, 1, 1]


async def test_unsubscribe_and_topics(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [7201, 7202])
        quitter, picky = h.user(7201), h.user(7202)
        await quitter.send("/huydangky")
        assert "Đã ngừng gửi thông báo thường kỳ" in quitter.last_text()
        await picky.send("/caidat")
        await picky.press("Chủ đề nhận tin")
        assert "✅ Lừa đảo" in str(picky.h.tg.last(7202).reply_markup)
        await picky.press("Lừa đảo")  # off
        assert "▫️ Lừa đảo" in str(picky.h.tg.last(7202).reply_markup)
        await picky.press("Quay lại")
        assert "Cài đặt" in picky.last_text()

        await bc_world.notice(h, w, "scams")
        await bc_world.notice(h, w, "fire")
        await bc_world.notice(h, w, "notice", text="Họp tổ dân phố tối nay lúc 19h30.")
        await round_trip(h)
        assert [received(h, 7201, x) for x in (SCAM, FIRE, NOTICE)] == [0, 0, 0]
        assert [received(h, 7202, x) for x in (SCAM, FIRE, NOTICE)] == [0, 1, 1]
        # Every notice ends with how to opt out.
        assert all("/huydangky" in (s.text or "").splitlines()[-1]
                   for s in h.tg.sent_to(7202) if FIRE in (s.text or ""))

        await quitter.send("/dangky")
        await bc_world.notice(h, w, "fire")
        await round_trip(h)
        assert received(h, 7201, FIRE) == 1


async def test_a_template_error_is_shown_at_the_preview_and_nothing_is_sent(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [7301])
        leader = w.leader.user
        await leader.send("/thongbao")
        await leader.press("Thông báo tự soạn")
        await leader.send("Mọi thắc mắc gọi {{ hotlin }} & {% if %}")
        await leader.press("Tiếp")
        await leader.press("Tiếp")
        shown = await leader.press("Gửi ngay")
        error = shown[-1]
        assert "có lỗi nên chưa gửi gì" in (error.text or "")
        labels = str(error.reply_markup)
        assert "Gửi ngay" not in labels and "Sửa nội dung" in labels
        await leader.press("Sửa nội dung")
        await leader.send("Mọi thắc mắc gọi {{ hotline }} & đến trụ sở <công an>.")
        preview = [s.text or "" for s in h.tg.sent_to(leader.chat)][-2]
        assert "Mọi thắc mắc gọi 113 &amp; đến trụ sở &lt;công an&gt;." in preview
        await leader.press("Gửi ngay")
        clock.advance(timedelta(seconds=1))
        await round_trip(h)
        assert received(h, 7301, "Mọi thắc mắc gọi 113") == 1
