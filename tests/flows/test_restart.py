"""Stopping and starting the bot in the middle of a dialog loses nothing.

The conversation state is a database row, so a new process continues at the same step
with everything entered so far; buttons sent by the old process still work; update ids
handled before the restart are not handled again.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import Attachment, Case, Conversation
from tests.flows.dialogs import (
    harness,
    joined,
    last_buttons,
    onboard,
    person_of,
    png,
    raw_update,
    village,
)


async def state(h, user_id: int) -> Conversation:
    async with h.rt.deps.db.read() as s:
        return (await s.execute(select(Conversation).where(
            Conversation.channel == "telegram",
            Conversation.user_id == str(user_id)))).scalar_one()


async def test_restart_in_the_middle_of_onboarding(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        u = h.user(5001, "Lan")
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        await u.send("da nang")
        await u.press("Đà Nẵng")
        before = await state(h, 5001)
        assert (before.flow, before.step) == ("start", "commune")

        await h.restart()
        out = await u.send("hai chau")  # the commune question, asked by the old process
        assert "Phường Hải Châu" in last_buttons(u)
        assert "tỉnh/thành phố" not in joined(out)  # not sent back to the province

        await h.restart()
        await u.press("Phường Hải Châu")  # a button sent before the restart
        await h.restart()
        await u.press("Tổ dân phố 2")
        out = await u.contact("84905123456")
        assert "Xong" in joined(out)
        person = await person_of(h.rt.deps.db, "telegram", 5001)
        assert person.home_area_id == (await village(h.rt.deps.db, 1)).id
        assert person.phone == "+84905123456"
        assert person.language == "vi"


async def test_restart_in_the_middle_of_a_report(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(5002, "Mai")
        await onboard(u)
        await u.send("/baotin")
        await u.press("Người, xe, hoạt động khả nghi")
        await u.send("Hai người lạ thử cửa từng nhà trong hẻm")
        await h.restart()
        out = await u.press("📍 Tổ dân phố 1")  # the "where" keyboard of the old process
        assert "Địa điểm cụ thể" in joined(out)
        await u.send("Hẻm 12 Lê Duẩn")
        await h.restart()
        await u.press("Thời điểm khác")
        await u.send("Tối qua khoảng 22 giờ")
        out = await u.photo(png())
        assert "(1/5)" in joined(out)
        draft = (await state(h, 5002)).data["draft"]
        assert draft["description"] == "Hai người lạ thử cửa từng nhà trong hẻm"
        assert draft["place"] == "Hẻm 12 Lê Duẩn" and len(draft["photos"]) == 1

        await h.restart()
        await u.press("Xong phần ảnh")
        out = await u.press("Ẩn danh")
        review = joined(out)
        for part in ("Người, xe, hoạt động khả nghi",
                     "Hai người lạ thử cửa từng nhà trong hẻm", "Tổ dân phố 1 — Hẻm 12 Lê Duẩn",
                     "Tối qua khoảng 22 giờ", "Ảnh: 1"):
            assert part in review
        await h.restart()
        out = await u.press("Gửi tin")
        assert "Đã nhận tin" in joined(out)
        async with db.read() as s:
            case = (await s.execute(select(Case))).scalar_one()
            photos = (await s.execute(select(Attachment))).scalars().all()
        assert case.description == "Hai người lạ thử cửa từng nhà trong hẻm"
        assert case.place_text == "Hẻm 12 Lê Duẩn"
        assert case.occurred == "Tối qua khoảng 22 giờ"
        assert case.area_id == (await village(db, 0)).id
        assert len(photos) == 1
        assert (await state(h, 5002)).flow is None


async def test_updates_handled_before_a_restart_are_not_handled_again(make_config, sqlite_url,
                                                                     clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(5003)
        await u.send("/start")
        out = await u.press("Đồng ý")
        assert "ngôn ngữ" in joined(out)
        press = h.tg.webhook_deliveries[-1].update_id
        await h.restart()
        # The press was answered 200 before the restart.
        original = next(d for d in h.tg.webhook_deliveries if d.update_id == press)
        assert original.status == 200
        sent = len(h.tg.sent_to(5003))
        await u.send("/trogiup")
        assert len(h.tg.sent_to(5003)) == sent + 1
        # A redelivery with that update id (say the 200 was lost) is dropped, not re-handled.
        body = raw_update(press, "/start", user_id=5003)
        assert await h.tg.post_raw_update(body) == 200
        assert len(h.tg.sent_to(5003)) == sent + 1


async def test_updates_sent_while_the_bot_is_down_are_handled_after_it_starts(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock, mode="polling") as h:
        u = h.user(5004)
        await u.send("/start")
        await u.press("Đồng ý")
        await h.stop_app()
        uid = await h.tg.user_sends_text(5004, "tieng viet", first_name=u.first_name)
        await h.start_app()
        await h.handled(uid)
        assert "tỉnh/thành phố" in u.inbox()[-1].text


async def test_webhook_retry_after_the_bot_was_down(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(5005)
        await u.send("/start")
        await h.stop_app()
        body = raw_update(123_456, "/trogiup", user_id=5005)
        assert await h.tg.post_raw_update(body) == 0  # nobody listening: Telegram will retry
        await h.start_app()
        assert await h.tg.post_raw_update(body) == 200
        assert "/baotin" in u.inbox()[-1].text
