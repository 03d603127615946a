"""An account marked unreachable after a 403 becomes reachable again as soon as it writes
to the bot in its private chat, so notifications reach it again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.tables import Identity
from tests.support.seed import case_by_ref, deliveries, file_tip, harness, onboard, seed_world


async def reachable(h: Any, person_id: int) -> bool:
    async with h.rt.deps.db.read() as s:
        return bool((await s.execute(select(Identity.reachable).where(
            Identity.person_id == person_id))).scalar_one())


async def test_an_officer_who_writes_again_is_reachable_again(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        await h.handled(await h.tg.user_blocks_bot(w.officer.chat, "Bình"))
        first = await file_tip(u)
        await h.deliver()
        assert await reachable(h, w.officer.person_id) is False
        assert (await case_by_ref(h, first)).assignee_id == w.officer2.person_id

        # A message in a group proves nothing about the private chat: still unreachable.
        in_group = h.user(9001, "Bình", chat_id=-100_555)
        await in_group.send("Chào cả nhóm")
        assert await reachable(h, w.officer.person_id) is False

        # Unblocked, the officer writes to the bot: reachable again, and the next tip is his.
        h.tg.unblock(w.officer.chat)
        out = await w.officer.user.send("/viec")
        assert "Có 1 tin đang mở" in (out[-1].text or "")
        assert await reachable(h, w.officer.person_id) is True
        second = await file_tip(u, "Xe máy lạ đậu trước cổng trường cả đêm",
                                category="Người, xe, hoạt động khả nghi")
        await h.deliver()
        case = await case_by_ref(h, second)
        assert case.assignee_id == w.officer.person_id
        assert [d.state for d in await deliveries(h, kind="case_notify", case_id=case.id)
                ] == ["sent"]
        assert any(second in (s.text or "") for s in h.tg.sent_to(w.officer.chat))


async def test_a_resident_who_writes_again_is_reachable_again(make_config, sqlite_url,
                                                                  clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        async with h.rt.deps.db.uow() as s:
            ident = (await s.execute(select(Identity).where(
                Identity.user_id == "7654321"))).scalar_one()
            ident.reachable, person_id = False, ident.person_id
        await u.send("/tincuatoi")
        assert await reachable(h, person_id) is True
