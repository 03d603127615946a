"""Officers' notices wait for a leader: the request arrives as a delivery row with buttons,
approve schedules it, reject sends the comment back; leaders' own notices go out directly
unless [broadcasts] leaders_need_approval is set."""

from __future__ import annotations

from tests.support import bc_world
from tests.support.bc_world import flooded as harness
from tests.support.bc_world import received, round_trip
from tests.support.seed import deliveries

TRAFFIC = "AN TOÀN GIAO THÔNG"


async def draft_traffic_now(u) -> None:
    await u.send("/thongbao")
    await u.press("An toàn giao thông")
    await u.press("Tiếp")
    await u.press("Tiếp")
    await u.press("Gửi ngay")


async def test_an_officers_notice_waits_for_a_leaders_approval(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, range(6001, 6004))
        officer = w.officer.user
        await draft_traffic_now(officer)
        assert "cần lãnh đạo duyệt" in officer.last_text()
        await officer.press("Gửi lãnh đạo duyệt")
        assert "tới lãnh đạo để duyệt" in officer.last_text()
        bc = await bc_world.latest_broadcast(h)
        assert bc.status == "pending" and bc.next_due_at is None

        await round_trip(h)
        assert received(h, 6001, TRAFFIC) == 0  # nothing before approval
        # The ward leader and the city leader are asked, with the exact text and buttons.
        for leader in (w.leader, w.province_leader):
            request = [s for s in h.tg.sent_to(leader.chat) if "chờ duyệt" in (s.text or "")]
            assert len(request) == 1 and TRAFFIC in (request[0].text or "")
        assert {d.kind for d in await deliveries(h, person_id=w.leader.person_id)} == \
            {"bc_review"}
        # An officer cannot approve it.
        await w.officer2.user.press_payload(f"!bcok:{bc.id}")
        assert "không có quyền duyệt" in w.officer2.last_text()

        w.leader.user.inbox()
        await w.leader.user.press("Duyệt")
        assert f"Đã duyệt thông báo #{bc.id}" in w.leader.last_text()
        await round_trip(h)
        assert [received(h, c, TRAFFIC) for c in range(6001, 6004)] == [1, 1, 1]
        assert any("đã được lãnh đạo duyệt" in t for t in officer.texts())
        assert "Báo cáo thông báo" in officer.last_text()
        # The second leader's button is now stale: already handled.
        await w.province_leader.user.press("Duyệt")
        assert "đã được xử lý trước đó" in w.province_leader.last_text()


async def test_a_rejected_notice_tells_the_author_why(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [6101])
        await draft_traffic_now(w.officer.user)
        await w.officer.user.press("Gửi lãnh đạo duyệt")
        await h.deliver()
        await w.leader.user.press("Từ chối")
        assert "Lý do từ chối" in w.leader.last_text()
        await w.leader.user.send("Trùng với thông báo tuần trước")
        assert "Đã từ chối" in w.leader.last_text()
        await round_trip(h)
        assert "bị từ chối. Lý do: Trùng với thông báo tuần trước" in w.officer.last_text()
        assert (await bc_world.latest_broadcast(h)).status == "rejected"
        assert received(h, 6101, TRAFFIC) == 0


async def test_leaders_go_direct_unless_configured_otherwise(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock,
                       overrides={"broadcasts": {"leaders_need_approval": True}}) as h:
        w = await bc_world.world(h)
        await bc_world.residents(h, w.commune_id, [6201])
        await draft_traffic_now(w.leader.user)
        await w.leader.user.press("Gửi lãnh đạo duyệt")
        await h.deliver()
        # Not the author: the city leader reviews the ward leader's notice.
        assert any("chờ duyệt" in t for t in w.province_leader.user.texts())
        assert not any("chờ duyệt" in t for t in w.leader.user.texts())
        await w.province_leader.user.press("Duyệt")
        await round_trip(h)
        assert received(h, 6201, TRAFFIC) == 1
