"""The tipster's answers always reach someone who can act: the assignee, else the duty group
a rule routes the case to, else the area's responsible officer or leaders; with nobody at
all the tipster is told it was only kept."""

from __future__ import annotations

from typing import Any

from bot.services import routing
from storage.repos import areas
from storage.tables import GroupChat
from tests.flows.test_case_handling import TIPSTER, TIPSTER_ID
from tests.support.seed import (
    add_staff,
    all_strings,
    case_by_ref,
    file_tip,
    harness,
    onboard,
    seed_world,
    texts,
)

GROUP = -100_777
ANSWER = "Người báo tin"


def answers(h: Any, chat: int) -> list[str]:
    return [t for t in texts(h.tg.sent_to(chat)) if ANSWER in t]


async def add_to_case(u: Any, ref: str, text: str) -> str:
    """"📂 Tin của tôi" → the case → "➕ Bổ sung thông tin" → one message → "✅ Xong"."""
    await u.send("/tincuatoi")
    await u.press(ref)
    await u.press("Bổ sung thông tin")
    out = texts(await u.send(text))
    await u.press("Xong")
    return out[0].splitlines()[0]


async def duty_group_rule(h: Any, w: Any) -> None:
    """Everything in Phường Hải Châu goes to its duty group only (no officer named)."""
    async with h.rt.deps.db.uow() as s:
        group = GroupChat(channel="telegram", chat_id=str(GROUP), title="Trực ban Hải Châu",
                          area_id=w.commune_id, active=True)
        s.add(group)
        await s.flush()
        commune = await areas.by_id(s, w.commune_id)
        assert commune is not None
        await routing.set_rule(s, area=commune, category=None, officer_id=None, backup_id=None,
                               group_chat_id=group.id, actor_id=None, actor_label="test",
                               at=h.rt.deps.clock())


async def test_answers_on_a_duty_group_case_reach_the_group_until_someone_takes_it(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        await duty_group_rule(h, w)
        u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa", "hoa_nguyen_92")
        ref = await file_tip(u)
        await h.deliver()
        assert any("Tin mới" in t for t in texts(h.tg.sent_to(GROUP)))
        assert (await case_by_ref(h, ref)).assignee_id is None

        sent = await add_to_case(u, ref, "Họ vừa quay lại, đang đứng ở đầu hẻm")
        assert sent == f"Đã gửi tới cán bộ phụ trách (tin {ref})."
        await h.deliver()
        (relayed,) = [s for s in h.tg.sent_to(GROUP) if ANSWER in (s.text or "")]
        assert "đang đứng ở đầu hẻm" in (relayed.text or "")
        assert "!ack:" in str(relayed.reply_markup)
        assert "!case:" not in str(relayed.reply_markup)  # the thread (notes) stays private
        for member in w.staff.values():
            assert answers(h, member.chat) == []
        assert [s for s in all_strings(h, GROUP) if any(p in s for p in TIPSTER)] == []

        # An officer takes it from the group: later answers go to them, not the group.
        in_group = h.user(w.officer2.user.user_id, "Cúc", chat_id=GROUP)
        await in_group.press("Tiếp nhận")
        assert (await case_by_ref(h, ref)).assignee_id == w.officer2.person_id
        await add_to_case(u, ref, "Một người mặc áo khoác xanh")
        await h.deliver()
        assert len([t for t in answers(h, GROUP)]) == 1
        assert "áo khoác xanh" in answers(h, w.officer2.chat)[-1]


async def test_answers_nobody_can_read_are_kept_and_reach_staff_who_come_later(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer=False, officer2=False, leader=False,
                             province_leader=False)
        u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa", "hoa_nguyen_92")
        ref = await file_tip(u)
        assert "chưa có cán bộ nhận tin" in u.texts()[-1]
        sent = await add_to_case(u, ref, "Biển số xe là 43A-123.45")
        assert "Đã lưu vào tin" in sent and "chưa có cán bộ nào" in sent and "113" in sent
        await h.deliver()
        assert answers(h, w.other_officer.chat) == []  # another commune

        # A ward leader is appointed: the next answer reaches them, with the whole case
        # a button away (the earlier answer included).
        leader = await add_staff(h, 9101, "Phạm Minh Đức", "leader", w.commune_id)
        sent = await add_to_case(u, ref, "Họ đi về phía cầu Rồng")
        assert sent == f"Đã gửi tới cán bộ phụ trách (tin {ref})."
        await h.deliver()
        (relayed,) = [s for s in h.tg.sent_to(leader.chat) if ANSWER in (s.text or "")]
        assert "cầu Rồng" in (relayed.text or "") and "!case:" in str(relayed.reply_markup)
        thread = texts(await leader.user.press("Xem tin"))[-1]
        assert "43A-123.45" in thread and "cầu Rồng" in thread
        assert [s for s in all_strings(h, leader.chat) if any(p in s for p in TIPSTER)] == []
