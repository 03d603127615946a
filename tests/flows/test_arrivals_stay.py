"""After a declaration: the host's guest list (end early, extend, declare a returning
guest again), reminders fired by the scheduler with the controllable clock, and the
purge after the retention period."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bot.services.arrivals import ID_CONTEXT
from storage.tables import AuditEntry, Delivery, Guest, Timer
from tests.flows.arrival_steps import (
    AN,
    AN_ID,
    BICH,
    arrival_harness,
    arrival_rows,
    arrival_world,
    declare,
    ref_in,
)
from tests.support.seed import audit_count


async def _pending_timers(h, kind: str) -> list[Timer]:
    async with h.rt.deps.db.read() as s:
        rows = list((await s.execute(select(Timer).where(
            Timer.kind == kind, Timer.state == "pending").order_by(Timer.id))).scalars())
        s.expunge_all()
        return rows


async def test_end_extend_and_declare_a_returning_guest_again(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await declare(host, [AN, BICH])
        await host.press("Gửi khai báo")
        await h.deliver()

        await host.send("/khachcuatoi")
        assert "Khách đang lưu trú</b> (2)" in host.last_text()
        assert "0010******21" in host.last_text() and AN_ID not in host.last_text()
        await host.press("Gia hạn 2")
        await host.press("+1 tuần")
        assert "đến 01/12/2026" in host.last_text()
        [end_timer] = [t for t in await _pending_timers(h, "arr_end") if t.data["day"] ==
                       "2026-12-01"]
        assert end_timer.due_at == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 local

        await host.send("/khachcuatoi")
        await host.press("Đã đi 1")
        assert "Đã ghi nhận Nguyễn Văn An rời đi" in host.last_text()
        await host.press("Đã đi 1")  # the old list's button again
        assert "đã được ghi nhận rời đi" in host.last_text()
        await h.deliver()
        officer_texts = "\n".join(aw.w.officer.user.texts())
        assert "Lê Thị Bích gia hạn lưu trú đến 01/12/2026" in officer_texts
        assert "Nguyễn Văn An đã rời đi lúc 10:00 23/11/2026" in officer_texts

        await host.send("/khachcuatoi")
        assert "Khách đang lưu trú</b> (1)" in host.last_text()
        await host.press("Khai báo lại: Nguyễn Văn An")  # one tap: every detail kept
        assert "Lý do lưu trú" in host.last_text()
        await host.press("Công tác")
        await host.press("Hôm nay")
        await host.press("2 đêm")
        assert "Nguyễn Văn An</b> — 01/02/1990" in host.last_text()
        await host.press("Gửi khai báo")
        assert ref_in(host.texts()) == "LT-26-000002"
        first, second = await arrival_rows(h)
        again = second[1][0]
        assert again.id_hash == first[1][0].id_hash
        cipher = h.rt.deps.cipher
        assert cipher.decrypt(again.id_cipher, ID_CONTEXT, again.key_id) == AN_ID
        assert (again.reason, again.stay_to) == ("work", date(2026, 11, 25))


async def test_other_people_cannot_touch_a_hosts_guests(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN])
        await aw.host.press("Gửi khai báo")
        [(_, [guest])] = await arrival_rows(h)
        for payload in (f"!arr_end:{guest.id}", f"!arr_ext:{guest.id}",
                        f"!arr_again:{guest.id}"):
            await aw.other_host.press_payload(payload)
            assert "không có quyền" in aw.other_host.last_text()
        await aw.other_host.send("/khachcuatoi")
        assert "chưa khai báo khách nào" in aw.other_host.last_text()
        [(_, [guest])] = await arrival_rows(h)
        assert guest.ended_at is None


async def test_unfinished_declaration_is_reminded_before_the_deadline(
        make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:  # 10:00 local
        aw = await arrival_world(h)
        host = aw.host
        await host.send("/khaibao")
        await host.send(AN)
        clock.advance(hours=10)  # 20:00: not yet (deadline 23:00, reminder 2 hours before)
        await h.tick()
        assert await h.deliver() == 0
        clock.advance(hours=1, minutes=5)  # 21:05
        assert await h.tick() == 1
        await h.deliver()
        text = host.last_text()
        assert "chưa gửi xong khai báo lưu trú (1 khách" in text and "23:00 23/11/2026" in text
        await host.press("Tiếp tục khai báo")
        assert "Khách thứ 2" in host.last_text()  # the same question again, nothing lost
        await host.press("Xong")
        assert "Lý do lưu trú" in host.last_text()


async def test_a_submitted_or_dropped_draft_is_not_reminded(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN])
        await aw.host.press("Gửi khai báo")
        await aw.other_host.send("/khaibao")  # no place: registering one…
        await aw.other_host.send("/huy")  # …then gives up
        clock.advance(hours=12)
        await h.tick()
        await h.deliver()
        assert not any("chưa gửi xong" in t for t in aw.host.texts() + aw.other_host.texts())
        assert "Khách đã đi" not in aw.host.last_text()


async def test_end_date_and_30_day_reminders(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        host = aw.host
        await declare(host, [AN], until="1 đêm")
        await host.press("Gửi khai báo")
        await declare(host, [BICH], until="1 tháng")
        await host.press("Gửi khai báo")
        await h.deliver()

        clock.now = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)  # 09:05 on the last day
        await h.tick()
        await h.deliver()
        assert "ngày cuối lưu trú dự kiến của <b>Nguyễn Văn An</b>" in host.last_text()
        await host.press("Gia hạn")
        await host.press("+1 đêm")
        assert "đến 25/11/2026" in host.last_text()

        clock.now = datetime(2026, 12, 23, 2, 5, tzinfo=UTC)  # day 30 of Bích's stay
        await h.tick()
        await h.deliver()
        texts = "\n".join(host.texts())
        assert "Lê Thị Bích</b> đã lưu trú 30 ngày" in texts and "đăng ký tạm trú" in texts
        # An's extended end (25/11) was reminded on its own day; its old one did not fire twice.
        assert texts.count("ngày cuối lưu trú dự kiến của <b>Nguyễn Văn An</b>") == 2
        assert "Hôm nay (25/11/2026)" in texts


async def test_purge_after_the_retention_period(make_config, sqlite_url, clock, caplog):
    caplog.set_level(logging.INFO)
    async with arrival_harness(make_config, sqlite_url, clock,
                               arrivals={"retention_days": 30}) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN, BICH], until="1 đêm")
        await aw.host.press("Gửi khai báo")
        ref = ref_in(aw.host.texts())
        await declare(aw.host, [AN], until="1 tháng")
        await aw.host.press("Gửi khai báo")
        await h.deliver()

        clock.now = datetime(2026, 12, 20, 3, tzinfo=UTC)  # 26 days after the first stay
        assert (await h.rt.scheduler.purge())["arrivals"] == 0
        clock.now = datetime(2026, 12, 25, 17, 1, tzinfo=UTC)  # 00:01 on 26/12 local
        counts = await h.rt.scheduler.purge()
        assert counts["arrivals"] == 1
        [(kept, _)] = await arrival_rows(h)
        assert kept.ref == "LT-26-000002"
        async with h.rt.deps.db.read() as s:
            assert (await s.execute(select(func.count()).select_from(Guest))).scalar_one() == 1
            left = (await s.execute(select(func.count()).select_from(Delivery).where(
                Delivery.dedupe_key.like("arr:1:%")))).scalar_one()
            entry = (await s.execute(select(AuditEntry).where(
                AuditEntry.action == "arrival.purge"))).scalar_one()
        assert left == 0
        assert entry.details == {"count": 1, "guests": 2, "refs": [ref]}
        assert f"declarations purged: 1 (2 guests): {ref}" in caplog.text
        assert await audit_count(h, "arrival.purge") == 1
        clock.advance(timedelta(days=60))
        assert (await h.rt.scheduler.purge())["arrivals"] == 1
        assert await arrival_rows(h) == []
