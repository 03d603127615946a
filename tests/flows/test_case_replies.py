"""Telegram's swipe-to-reply on a case message continues that case, both ways, as the
"✍️ Trả lời" / "➕ Bổ sung thông tin" / "❓ Hỏi thêm" buttons do — without either side
learning who the other is, and without hijacking a tip the resident is drafting."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from storage.tables import CaseMessage
from tests.fakes.telegram_api import Sent
from tests.flows.test_case_handling import OFFICER_IDENTITY, TIPSTER, TIPSTER_ID, leaks
from tests.support.seed import (
    JPEG,
    JPEG_2,
    all_strings,
    case_by_ref,
    file_tip,
    harness,
    onboard,
    seed_world,
    texts,
)

ANSWER = "Người báo tin"
QUESTION = "Cán bộ phụ trách hỏi thêm"


def last_with(h: Any, chat: int, needle: str) -> Sent:
    return [s for s in h.tg.sent_to(chat) if needle in (s.text or "")][-1]


def relayed(h: Any, chat: int, needle: str) -> list[Sent]:
    return [s for s in h.tg.sent_to(chat) if needle in (s.text or "")]


async def authors(h: Any, ref: str) -> list[str]:
    case = await case_by_ref(h, ref)
    async with h.rt.deps.db.read() as s:
        return [m.author for m in (await s.execute(
            select(CaseMessage).where(CaseMessage.case_id == case.id)
            .order_by(CaseMessage.id))).scalars()]


async def setup(h: Any) -> tuple[Any, Any, str]:
    w = await seed_world(h)
    u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa", "hoa_nguyen_92")
    ref = await file_tip(u)
    await h.deliver()
    for member in w.staff.values():
        member.user.inbox()  # delivered notices are not replies to the next message
    u.inbox()
    return w, u, ref


async def test_replies_continue_the_case_both_ways_with_photos(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u, ref = await setup(h)
        officer = w.officer.user
        notice = last_with(h, officer.chat, "Tin mới")

        # The officer replies to the new-case notice: a question for the tipster.
        out = texts(await officer.send("Xe máy màu gì, biển số có nhớ không?", reply_to=notice))
        assert out[-1] == f"Đã gửi câu hỏi cho người báo tin {ref}."
        await h.deliver()
        question = last_with(h, u.chat, QUESTION)
        assert ref in (question.text or "") and "Xe máy màu gì" in (question.text or "")

        # The tipster replies to the question, then replies with a photo to it.
        out = texts(await u.send("Wave màu đỏ, không thấy biển số", reply_to=question))
        assert out[-1] == f"Đã gửi tới cán bộ phụ trách (tin {ref})."
        out = texts(await u.photo(JPEG, caption="Ảnh chụp từ camera nhà tôi", reply_to=question))
        assert out[-1] == f"Đã gửi tới cán bộ phụ trách (tin {ref})."
        await h.deliver()
        answers = relayed(h, officer.chat, ANSWER)
        assert len(answers) == 2
        assert "Wave màu đỏ, không thấy biển số" in (answers[0].text or "")
        assert answers[1].method == "sendPhoto" and answers[1].photo == JPEG
        assert "Ảnh chụp từ camera nhà tôi" in (answers[1].text or "")
        assert "!ack:" in str(answers[0].reply_markup)

        # The officer replies to the relayed answer with a photo: it reaches the tipster.
        await officer.photo(JPEG_2, caption="Có phải chiếc này?", reply_to=answers[0])
        await h.deliver()
        second = last_with(h, u.chat, QUESTION)
        assert second.method == "sendPhoto" and second.photo == JPEG_2
        assert "Có phải chiếc này?" in (second.text or "")

        # A reply to a status line about the case works too ("📨 … đã đến cán bộ").
        status = last_with(h, u.chat, "đã đến cán bộ phụ trách")
        await u.send("Bổ sung: họ đi về phía chợ Hàn", reply_to=status)
        await h.deliver()
        assert "đi về phía chợ Hàn" in (relayed(h, officer.chat, ANSWER)[-1].text or "")

        # Nobody's conversation was changed by the replies; nothing leaked either way.
        assert await authors(h, ref) == ["reporter", "staff", "reporter", "reporter", "staff",
                                         "reporter"]
        assert leaks(all_strings(h, u.chat), OFFICER_IDENTITY) == []
        assert leaks(all_strings(h, officer.chat), TIPSTER) == []
        assert "Tôi không hiểu" not in " ".join(u.texts() + officer.texts())


async def test_a_reply_does_not_hijack_a_draft(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        await w.officer.user.press("Hỏi thêm")
        await w.officer.user.send("Bạn thấy họ lúc mấy giờ?")
        await h.deliver()
        question = last_with(h, u.chat, QUESTION)

        # Typing the description of a new tip: the reply is the description, as typed,
        # and the resident is told it did not go to the other case.
        await u.send("/baotin")
        await u.press("Mất trật tự công cộng")
        out = texts(await u.send("Karaoke ồn ào sau 23 giờ ở số 20", reply_to=question))
        assert f"chưa được gửi về tin {ref}" in out[0]
        assert "Việc này xảy ra ở đâu?" in out[-1]
        assert relayed(h, w.officer.chat, ANSWER) == []

        # At the review screen (buttons only) a reply goes to the case; the draft waits.
        await u.press("Tổ dân phố 1")
        await u.press("Bỏ qua")
        await u.press("Đang xảy ra")
        await u.press("Bỏ qua")
        await u.press("Ẩn danh")
        assert "Kiểm tra lại trước khi gửi" in u.last_text()
        out = texts(await u.send("Khoảng 9 giờ tối", reply_to=question))
        assert out[0] == f"Đã gửi tới cán bộ phụ trách (tin {ref})."
        assert "vẫn được giữ nguyên" in out[1]
        await h.deliver()
        assert "Khoảng 9 giờ tối" in (relayed(h, w.officer.chat, ANSWER)[-1].text or "")
        (new_ref,) = re.findall(r"BY-\d\d-\d{6}", " ".join(texts(await u.press("Gửi tin"))))
        assert new_ref != ref
        assert (await case_by_ref(h, new_ref)).description == "Karaoke ồn ào sau 23 giờ ở số 20"


async def test_replies_that_name_no_case_of_theirs_are_not_relayed(make_config, sqlite_url,
                                                                    clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        # Another resident quotes a message naming the case: it is not theirs.
        other = await onboard(h, 7_000_002, "Khách")
        mine = await file_tip(other, "Đèn đường hỏng", category="Khác")
        received = last_with(h, other.chat, mine)
        forged = {"message_id": received.message_id, "from": h.tg.bot_user,
                  "chat": {"id": other.chat, "type": "private"}, "date": 0,
                  "text": f"Tin {ref} của người khác"}
        uid = await h.tg.inject_update({"message": {
            "message_id": 99_001, "from": {"id": other.user_id, "is_bot": False,
                                           "first_name": "Khách"},
            "chat": {"id": other.chat, "type": "private"}, "date": 0,
            "text": "Cho tôi xem với", "reply_to_message": forged}})
        await h.handled(uid)
        # An officer of another commune cannot act on it either.
        uid = await h.tg.inject_update({"message": {
            "message_id": 99_002, "from": {"id": w.other_officer.chat, "is_bot": False,
                                           "first_name": "Khoa"},
            "chat": {"id": w.other_officer.chat, "type": "private"}, "date": 0,
            "text": "Hỏi thử", "reply_to_message": {**forged, "chat": {
                "id": w.other_officer.chat, "type": "private"}}}})
        await h.handled(uid)
        await h.deliver()
        assert relayed(h, w.officer.chat, ANSWER) == []
        assert relayed(h, u.chat, QUESTION) == []
        assert await authors(h, ref) == ["reporter"]

        # A closed case takes no more additions from the tipster.
        case = await case_by_ref(h, ref)
        await w.officer.user.press_payload(f"!close:{case.id}")
        await w.officer.user.press("Đã giải quyết")
        await w.officer.user.send("Đã xác minh, không có trộm cắp")
        await h.deliver()
        closed = last_with(h, u.chat, "đã được xử lý xong")
        assert texts(await u.send("Cảm ơn các anh", reply_to=closed))[-1] == "Tin này đã kết thúc."
        assert await authors(h, ref) == ["reporter", "system"]
