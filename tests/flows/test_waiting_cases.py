"""A tip filed where nobody receives tips waits ("chờ chuyển") and is passed on as soon as
someone becomes responsible for the area: an invitation taken up, a routing rule set."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.services import tips
from storage.tables import AuditEntry, Timer
from tests.support.seed import (
    COMMUNE,
    add_staff,
    case_by_ref,
    deliveries,
    file_tip,
    harness,
    invite_staff,
    onboard,
    seed_world,
    texts,
)

NO_OFFICER = "chưa có cán bộ nhận tin qua Bình Yên"


async def route_audits(h: Any) -> list[dict]:
    async with h.rt.deps.db.read() as s:
        rows = (await s.execute(select(AuditEntry).where(AuditEntry.action == "case.route")
                                .order_by(AuditEntry.id))).scalars().all()
        return [{"ref": r.object_id, **r.details} for r in rows]


async def test_an_invited_officer_gets_the_tips_that_waited(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h, officer=False, officer2=False, leader=False,
                             province_leader=False)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        crime = await file_tip(u)
        assert NO_OFFICER in u.texts()[-1]
        clock.advance(minutes=30)
        support = await file_tip(u, "Cụ bà sống một mình ở số 12 cần giúp làm thủ tục",
                                 category="Đề nghị hỗ trợ")
        assert NO_OFFICER in u.texts()[-1]
        clock.advance(hours=3)  # the crime tip's hour passes while nobody can see it
        assert await h.tick() == 1  # its acknowledge check finds no one to escalate to
        await h.deliver()
        assert (await case_by_ref(h, crime)).status == "new"
        assert not any(w.other_officer.user.texts())  # another commune's officer: nothing

        # A "3 in 1" team member may receive the support request, never the crime tip.
        team = await invite_staff(h, 9501, "Mai Thị Thu", "team", COMMUNE)
        assert "Đã chuyển 1 tin đang chờ" in team.user.last_text()
        await h.deliver()
        assert any(support in t and "Tin mới" in t for t in team.user.texts())
        assert not any(crime in t for t in team.user.texts())
        assert (await case_by_ref(h, crime)).status == "new"

        # The first officer of the ward takes up an invitation: the crime tip is passed on.
        officer = await invite_staff(h, 9001, "Trần Văn Bình", "officer", COMMUNE)
        assert "Đã chuyển 1 tin đang chờ" in officer.user.last_text()
        await h.deliver()
        notices = [t for t in officer.user.texts() if "Tin mới" in t]
        assert len(notices) == 1 and crime in notices[0] and "hẻm 45" in notices[0]
        case = await case_by_ref(h, crime)
        assert (case.status, case.assignee_id) == ("routed", officer.person_id)
        # Through the normal notification: a delivery row, and the resident hears it arrived.
        assert [d.state for d in await deliveries(h, kind="case_notify", case_id=case.id)
                ] == ["sent"]
        assert any(f"Tin {crime} đã đến cán bộ phụ trách" in t for t in u.texts())
        audits = await route_audits(h)
        assert [(a["ref"], a["trigger"], a["officer"]) for a in audits[-2:]] == [
            (support, "role.grant", team.person_id), (crime, "role.grant", officer.person_id)]

        # The officer has the category's full hour from now before anyone is chased.
        assert case.ack_due_at == clock() + timedelta(hours=1)
        clock.advance(minutes=59)
        assert await h.tick() == 0
        clock.advance(minutes=1)
        assert await h.tick() == 1
        await h.deliver()
        assert "Nhắc: tin" in officer.user.last_text() and crime in officer.user.last_text()

        # Nothing is passed on twice: a second officer finds no waiting case.
        second = await invite_staff(h, 9002, "Lê Thị Cúc", "officer", COMMUNE)
        assert "tin đang chờ" not in second.user.last_text()
        await h.deliver()
        assert not any(crime in t for t in second.user.texts())


async def test_a_rule_set_in_chat_passes_on_the_waiting_tips(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer=False, officer2=False, leader=False,
                             province_leader=False)
        # Only street group 2 has an officer: a tip from street group 1 waits.
        lam = await add_staff(h, 9401, "Hồ Văn Lâm", "officer", w.village2_id)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        ref = await file_tip(u)
        assert NO_OFFICER in u.texts()[-1]
        # A ward leader whose grant was made straight in the database (as the demo data
        # does) routes nothing by itself; the rule they set in chat does.
        leader = await add_staff(h, 9101, "Phạm Minh Đức", "leader", w.commune_id)
        assert (await case_by_ref(h, ref)).status == "new"
        await leader.user.send("/quytac")
        await leader.user.press("Mọi loại tin")
        out = texts(await leader.user.press("Hồ Văn Lâm"))
        assert "Đã lưu" in out[0] and "Đã chuyển 1 tin đang chờ" in out[0]
        await h.deliver()
        assert any(ref in t and "Tin mới" in t for t in lam.user.texts())
        case = await case_by_ref(h, ref)
        assert (case.status, case.assignee_id) == ("routed", lam.person_id)
        assert (await route_audits(h))[-1]["trigger"] == "rule.set"
        async with h.rt.deps.db.read() as s:
            pending = (await s.execute(select(Timer).where(
                Timer.kind == tips.ACK_TIMER, Timer.ref == str(case.id),
                Timer.state == "pending"))).scalars().all()
        assert [t.due_at for t in pending] == [case.ack_due_at]
