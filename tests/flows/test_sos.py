"""/sos: the emergency numbers come first; every on-duty officer of the area is alerted,
again every two minutes until someone acknowledges, then the leaders."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.services import tips
from storage.tables import Case, Identity, RoleGrant
from tests.support.seed import (
    add_staff,
    audit_count,
    deliveries,
    harness,
    onboard,
    seed_world,
    texts,
)

ALERT = "SOS — KHẨN CẤP"
NUMBERS = ("113", "114", "115")


def alerts(h: Any, chat: int) -> int:
    return sum(ALERT in t for t in texts(h.tg.sent_to(chat)))


async def sos_case(h: Any) -> Case:
    async with h.rt.deps.db.read() as s:
        case = (await s.execute(select(Case).where(Case.kind == "sos"))).scalar_one()
        s.expunge(case)
        return case


async def raise_sos(h: Any, text: str = "Có người đang cạy cửa nhà hàng xóm số 15") -> Any:
    w = await seed_world(h)
    w.staff["off_duty"] = await add_staff(h, 9003, "Ngô Văn Tâm", "officer", w.commune_id,
                                          on_duty=False)
    u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa", "hoa_nguyen_92")
    out = texts(await u.send("/sos"))
    assert all(n in out[0] for n in NUMBERS), out
    out = texts(await u.send(text))
    assert "Đã báo động tới 2 cán bộ trực" in out[0], out
    return w, u


async def test_first_reply_is_the_emergency_numbers_everywhere(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        # Someone who never registered: the numbers still come first, before any notice.
        stranger = h.user(7_000_001, "Lan")
        out = texts(await stranger.send("/sos"))
        assert all(n in out[0] for n in NUMBERS), out
        assert "Bình Yên" not in out[0]
        out = texts(await stranger.send("Cháy ở chợ"))
        assert "gọi ngay 113" in out[0]  # nobody on duty is known for them: call 113

        # A resident from the menu button.
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        await u.send("/trogiup")
        await u.send("/huy")
        out = texts(await u.press("Khẩn cấp"))
        assert all(n in out[0] for n in NUMBERS), out

        # In a neighbourhood group: the numbers, and nothing asked there.
        member = h.user(7_654_321, "Hoa", chat_id=-100_555)
        out = texts(await member.send("/sos"))
        assert len(out) == 1 and all(n in out[0] for n in NUMBERS), out


async def test_every_on_duty_officer_is_alerted(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, _u = await raise_sos(h)
        await h.deliver()
        assert alerts(h, w.officer.chat) == 1 and alerts(h, w.officer2.chat) == 1
        assert alerts(h, w.off_duty.chat) == 0  # not on duty
        assert alerts(h, w.other_officer.chat) == 0  # another commune
        alert = h.tg.sent_to(w.officer.chat)[0].text or ""
        assert "cạy cửa nhà hàng xóm số 15" in alert and "Tổ dân phố 1" in alert
        # Named, so the officer can call back.
        assert "Nguyễn Thị Hoa" in alert and "+84912345678" in alert
        case = await sos_case(h)
        assert (case.category_code, case.status) == ("KHAN", "routed")


async def test_alerts_repeat_every_two_minutes_until_acknowledged(make_config, sqlite_url,
                                                                  clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u = await raise_sos(h)
        await h.deliver()
        clock.advance(seconds=119)
        assert await h.tick() == 0
        clock.advance(seconds=1)
        assert await h.tick() == 1
        await h.deliver()
        assert alerts(h, w.officer.chat) == 2 and alerts(h, w.officer2.chat) == 2

        # The third round is queued but not sent yet when the officer acknowledges.
        clock.advance(minutes=2)
        assert await h.tick() == 1
        out = texts(await w.officer2.user.press("Tiếp nhận"))
        assert "Đã tiếp nhận tin" in out[-1]
        await h.deliver()
        assert alerts(h, w.officer.chat) == 2 and alerts(h, w.officer2.chat) == 2
        assert {d.state for d in await deliveries(h, kind="sos_alert")} == {"sent", "cancelled"}
        assert sum("Cán bộ phụ trách đã tiếp nhận" in t for t in u.texts()) == 1

        clock.advance(minutes=30)
        assert await h.tick() == 0
        await h.deliver()
        assert alerts(h, w.officer.chat) == 2
        assert h.tg.sent_to(w.leader.chat) == []


async def test_unacknowledged_sos_escalates_after_the_last_round(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, _u = await raise_sos(h)
        await h.deliver()
        for _ in range(tips.SOS_MAX_RESENDS):
            clock.advance(tips.SOS_RESEND)
            assert await h.tick() == 1
            await h.deliver()
        rounds = tips.SOS_MAX_RESENDS  # round 0, then re-sends until the last round
        assert alerts(h, w.officer.chat) == rounds and alerts(h, w.officer2.chat) == rounds
        assert alerts(h, w.leader.chat) == 0
        escalated = [t for t in texts(h.tg.sent_to(w.leader.chat))
                     if "chưa được tiếp nhận" in t]
        assert len(escalated) == 1 and "cạy cửa" in escalated[0]
        assert await audit_count(h, "case.sos_alert") == rounds
        assert await audit_count(h, "case.escalate") == 1

        # Still nobody: the city's leader, after the category's 5-minute target.
        clock.advance(minutes=5)
        assert await h.tick() == 1
        await h.deliver()
        assert any("chưa được tiếp nhận" in t
                   for t in texts(h.tg.sent_to(w.province_leader.chat)))
        clock.advance(hours=1)
        await h.tick()
        await h.deliver()
        assert alerts(h, w.officer.chat) == rounds


async def test_sos_with_a_location_only(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        await u.send("/sos")
        out = texts(await u.location(16.06778, 108.22083))
        assert "Đã nhận vị trí" in out[-1]
        out = texts(await u.press("Gửi ngay"))
        assert "Đã báo động tới 2 cán bộ trực" in out[0]
        await h.deliver()
        alert = h.tg.sent_to(w.officer.chat)[0].text or ""
        assert "16.06778" in alert and "108.22083" in alert and "openstreetmap" in alert


async def test_without_officers_the_nearest_leaders_are_alerted(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer=False, officer2=False)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        await u.send("/sos")
        out = texts(await u.send("Đánh nhau có dao trước quán nhậu"))
        assert "Đã báo động tới 1 cán bộ trực" in out[0]
        await h.deliver()
        # The ward's leader; the city's hears of it only if nobody acknowledges (escalation).
        assert alerts(h, w.leader.chat) == 1 and alerts(h, w.province_leader.chat) == 0


async def raise_another(h: Any, u: Any, expected: int) -> None:
    """The resident raises one more SOS; ``expected`` officers are alerted."""
    await u.send("/sos")
    out = texts(await u.send("Có người ngã xe bất tỉnh trước nhà số 3"))
    assert f"Đã báo động tới {expected} cán bộ trực" in out[0], out
    await h.deliver()


async def test_officers_go_on_and_off_duty_and_sos_follows(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u = await raise_sos(h)  # Bình and Cúc on duty, Tâm off duty: 2 alerted
        await h.deliver()
        officer, officer2, tam = w.officer.user, w.officer2.user, w.off_duty.user

        out = await officer.send("/truc")
        assert "trong ca trực" in (out[-1].text or "")
        assert "Hết ca trực" in str(out[-1].reply_markup)
        out = texts(await officer.press("Hết ca trực"))
        assert "Đã hết ca trực" in out[-1] and "không còn cán bộ nào trực" not in out[-1]
        out = texts(await officer.send("/viec"))
        assert "Ngoài ca trực" in out[-1] and "Có 1 tin đang mở" in out[-1]
        # The English name works too; the last officer on duty is warned.
        out = texts(await officer2.send("/duty off"))
        assert "Đã hết ca trực" in out[-1]
        assert "không còn cán bộ nào trực ở Phường Hải Châu" in out[-1]
        async with h.rt.deps.db.read() as s:
            flags = (await s.execute(select(RoleGrant.on_duty).where(
                RoleGrant.role == "officer", RoleGrant.area_id == w.commune_id))).scalars()
            assert not any(flags)

        # Nobody on duty: every officer of the ward, Tâm too, and no leader.
        await raise_another(h, u, 3)
        assert [alerts(h, m.chat) for m in (w.officer, w.officer2, w.off_duty)] == [2, 2, 1]
        assert alerts(h, w.leader.chat) == 0 and alerts(h, w.other_officer.chat) == 0

        # Tâm goes on duty from the button: the next SOS is his alone.
        out = await tam.send("/truc")
        assert "ngoài ca trực" in (out[-1].text or "")
        out = texts(await tam.press("Vào ca trực"))
        assert "Đã vào ca trực" in out[-1]
        assert "Đang trực" in texts(await tam.send("/viec"))[-1]
        await raise_another(h, u, 1)
        assert [alerts(h, m.chat) for m in (w.officer, w.officer2, w.off_duty)] == [2, 2, 2]
        assert await audit_count(h, "staff.duty") == 3
        # A stale button changes nothing twice.
        out = texts(await tam.press("Vào ca trực"))
        assert "Đã vào ca trực" in out[-1]
        assert await audit_count(h, "staff.duty") == 3


async def test_the_nearest_level_on_duty_gets_the_sos_first(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        lam = await add_staff(h, 9401, "Hồ Văn Lâm", "officer", w.village1_id)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")  # lives in Tổ dân phố 1
        await raise_another(h, u, 1)  # the street group's officer, not the ward's
        assert alerts(h, lam.chat) == 1 and alerts(h, w.officer.chat) == 0

        await lam.user.send("/truc hết ca")
        await raise_another(h, u, 2)  # now the ward's officers on duty
        assert alerts(h, lam.chat) == 1
        assert alerts(h, w.officer.chat) == 1 and alerts(h, w.officer2.chat) == 1

        # Officers whose accounts cannot be reached do not count as on duty: an alert to
        # nobody's chat is no alert. Lâm (off duty, reachable) is the nearest officer.
        async with h.rt.deps.db.uow() as s:
            await s.execute(update(Identity).where(Identity.person_id.in_(
                [w.officer.person_id, w.officer2.person_id])).values(reachable=False))
        await raise_another(h, u, 1)
        assert alerts(h, lam.chat) == 2


async def test_duty_is_for_police_staff(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        team = await add_staff(h, 9501, "Mai Thị Thu", "team", w.commune_id)
        assert "chỉ dành cho cán bộ công an" in texts(await team.user.send("/truc"))[-1]
        assert "ca trực" not in texts(await team.user.send("/viec"))[-1].lower()
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        assert "chỉ dành cho cán bộ" in texts(await u.send("/truc"))[-1]
        out = texts(await u.press_payload("!duty:off"))
        assert "chỉ dành cho cán bộ" in out[-1]
        assert await audit_count(h, "staff.duty") == 0
        # In the command menus, Vietnamese first, English second.
        assert ("truc", "Ca trực (cán bộ)") in h.rt.engine.routes.menu("vi")
        assert ("duty", "Duty shift (staff)") in h.rt.engine.routes.menu("en")
