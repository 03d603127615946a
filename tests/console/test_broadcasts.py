"""Notices in the console: compose with a server-side preview and audience count, a
leader's approval, the delivery report after sending, pause/resume/cancel — all through
the broadcasts feature's own services, as in chat."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.tables import AuditEntry, Broadcast
from tests.flows.arrival_steps import add_host
from tests.support.console import sign_in
from tests.support.seed import harness, seed_world


async def residents(h, w, n: int = 3) -> list[int]:
    """Consenting residents of street group 1 (Telegram chats 5001…)."""
    return [(await add_host(h, 5001 + i, f"Cư Dân {i}", w.village1_id))[1] for i in range(n)]


async def test_officer_composes_leader_approves_and_the_report_counts_deliveries(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        await residents(h, w)
        h.tg.block(5003)
        officer = await sign_in(h, w.officer.person_id)
        leader = await sign_in(h, w.leader.person_id)
        try:
            form = await officer.get("/console/broadcasts/new?template=scams")
            assert form.status == 200 and "Lừa đảo qua điện thoại, mạng" in form
            assert "cần lãnh đạo duyệt" in form
            fields = {"template": "scams", "areas": str(w.village1_id), "roles": "residents",
                      "kind": "now", "note": "Họp tổ dân phố tối thứ Sáu"}
            shown = await officer.post("/console/broadcasts/new", {**fields, "do": "preview"})
            assert shown.status == 200 and "3 người và 0 nhóm chat sẽ nhận" in shown
            assert "Họp tổ dân phố tối thứ Sáu" in shown and "Phường Hải Châu" in shown
            empty = await officer.post("/console/broadcasts/new",
                                       {"template": "scams", "kind": "now", "do": "preview"})
            assert "Chưa gửi được" in empty
            sent = await officer.post("/console/broadcasts/new", {**fields, "do": "send"})
            assert sent.status == 200 and "để lãnh đạo duyệt" in sent
            bid = int(re.search(r"/console/broadcasts/(\d+)", sent.url).group(1))
            assert "chờ duyệt" in sent and "Duyệt và lên lịch" not in sent
            assert (await officer.post(f"/console/broadcasts/{bid}/approve")).status == 403
            await h.deliver()
            assert any(f"#{bid}" in t or str(bid) in t for t in w.leader.user.texts())

            page = await leader.get(f"/console/broadcasts/{bid}")
            assert "Duyệt và lên lịch" in page
            approved = await leader.post(f"/console/broadcasts/{bid}/approve")
            assert "Đã duyệt" in approved and "đã lên lịch" in approved
            await h.tick()
            await h.deliver()
            await h.tick()
            report = await leader.get(f"/console/broadcasts/{bid}")
            numbers = re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(\d+)</dd>", report.text)
            assert dict(numbers)["Số người nhận"] == "3"
            assert dict(numbers)["Đã gửi tới"] == "2"
            assert dict(numbers)["Không liên lạc được"] == "1"
            assert "đã gửi xong" in report
            rate = await leader.get(f"/console/broadcasts/{bid}/rate.csv")
            assert rate.status == 200 and rate.text.splitlines()[1].endswith(",2")
            svg = await leader.get(f"/console/broadcasts/{bid}/rate.svg")
            assert svg.status == 200 and "<svg" in svg.text

            published = await leader.post(f"/console/broadcasts/{bid}/publish",
                                          {"publishable": "1"})
            assert "Công khai (CAP)" in published
            assert (await officer.post(f"/console/broadcasts/{bid}/publish",
                                       {"publishable": "0"})).status == 403
            listing = await officer.get("/console/broadcasts")
            assert f"#{bid}" in listing
        finally:
            await officer.close()
            await leader.close()
        async with h.rt.deps.db.read() as s:
            bc = await s.get(Broadcast, bid)
            actions = list((await s.execute(select(AuditEntry.action).where(
                AuditEntry.object_type == "broadcast").order_by(AuditEntry.id))).scalars())
        assert bc.publishable and bc.status == "done" and bc.approved_by == w.leader.person_id
        assert actions[0] == "broadcast.create" and actions.count("broadcast.approve") == 1
        assert actions.count("broadcast.publish") == 1


async def test_pause_resume_cancel_and_reject(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        await residents(h, w, 1)
        leader = await sign_in(h, w.leader.person_id)
        officer = await sign_in(h, w.officer.person_id)
        far = await sign_in(h, w.other_officer.person_id)
        try:
            await leader.get("/console/broadcasts/new")
            weekly = await leader.post("/console/broadcasts/new", {
                "template": "fire", "areas": str(w.village1_id), "roles": "residents",
                "groups": "1", "kind": "weekly", "weekdays": "0", "time": "08:00",
                "do": "send"})
            assert "đã lên lịch gửi" in weekly and "hàng tuần vào Thứ Hai lúc 08:00" in weekly
            bid = int(re.search(r"/console/broadcasts/(\d+)", weekly.url).group(1))
            assert (await far.get(f"/console/broadcasts/{bid}")).status == 404
            paused = await leader.post(f"/console/broadcasts/{bid}/pause")
            assert "Đã tạm dừng" in paused and "tạm dừng" in paused
            again = await leader.post(f"/console/broadcasts/{bid}/pause")
            assert "Không thể làm việc này" in again
            resumed = await leader.post(f"/console/broadcasts/{bid}/resume")
            assert "Đã tiếp tục gửi" in resumed
            cancelled = await leader.post(f"/console/broadcasts/{bid}/cancel")
            assert "Đã hủy thông báo" in cancelled and "đã hủy" in cancelled

            await officer.get("/console/broadcasts/new")
            own = await officer.post("/console/broadcasts/new", {
                "template": "notice", "text_vi": "Mất điện khu phố 1 từ 8 giờ đến 11 giờ",
                "areas": str(w.village1_id), "roles": "residents", "kind": "now",
                "do": "send"})
            oid = int(re.search(r"/console/broadcasts/(\d+)", own.url).group(1))
            short = await leader.post(f"/console/broadcasts/{oid}/reject", {"note": "x"})
            assert "ít nhất 3 ký tự" in short
            rejected = await leader.post(f"/console/broadcasts/{oid}/reject",
                                         {"note": "Thiếu số điện thoại liên hệ"})
            assert "Đã từ chối" in rejected and "bị từ chối" in rejected
            await h.deliver()
            assert any("Thiếu số điện thoại liên hệ" in t for t in w.officer.user.texts())
        finally:
            for b in (leader, officer, far):
                await b.close()
