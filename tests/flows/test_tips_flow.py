"""/baotin over the fake Telegram server: the report dialog, what the tipster and the officer
see, the anonymity guarantee, bad input at every step, cancelling and editing a draft,
emergency words, the reference and response time, and at-most-once intake."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.tables import Attachment, Case
from tests.support.seed import (
    JPEG,
    PNG,
    all_strings,
    case_by_ref,
    draft_tip,
    file_tip,
    harness,
    jpeg,
    onboard,
    person_of,
    seed_world,
    send_document,
    texts,
)

# The tipster: every piece of their identity the officer must never see when anonymous.
TIPSTER_ID = 7_654_321
TIPSTER_NAME = "Nguyễn Thị Hoa"
TIPSTER_USERNAME = "hoa_nguyen_92"
TIPSTER_PHONE_TYPED = "0912 345 678"
TIPSTER_IDENTITY = (TIPSTER_NAME, "Nguyễn", "Hoa", TIPSTER_USERNAME, "+84912345678",
                    "0912345678", "912345678", "912 345 678", str(TIPSTER_ID))

REF_RE = re.compile(r"^BY-\d{2}-\d{6}$")


async def tipster(h: Any) -> Any:
    return await onboard(h, TIPSTER_ID, TIPSTER_NAME, TIPSTER_USERNAME,
                         phone=TIPSTER_PHONE_TYPED)


def leaks(strings: list[str], identity: tuple[str, ...] = TIPSTER_IDENTITY) -> list[str]:
    return [f"{piece!r} in {s!r}" for s in strings for piece in identity if piece in s]


async def count_cases(h: Any) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Case))).scalar_one())


# --- the happy path, anonymity ---------------------------------------------------------


async def test_anonymous_tip_reaches_the_officer_without_the_tipster_identity(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        u = await tipster(h)
        await draft_tip(u, photos=[jpeg(1), jpeg(2)])
        out = await u.press("Gửi tin")
        received = texts(out)[-1]
        # "Received, being routed" — not yet "received by the officer".
        assert "Đã nhận tin" in received and "đang được chuyển" in received
        assert not any("đã đến cán bộ" in t for t in u.texts())
        assert h.tg.sent_to(w.officer.chat) == []

        await h.deliver()
        officer_msgs = h.tg.sent_to(w.officer.chat)
        assert "Tin mới" in (officer_msgs[0].text or "")
        assert "Hẻm 45 Lê Lợi" in (officer_msgs[0].text or "")
        assert "ẩn danh" in (officer_msgs[0].text or "")
        assert [m.method for m in officer_msgs] == ["sendMessage", "sendPhoto", "sendPhoto"]
        assert officer_msgs[1].photo == jpeg(1) and officer_msgs[2].photo == jpeg(2)
        # Only now is the tipster told the officer has it.
        assert sum("đã đến cán bộ phụ trách" in t for t in u.texts()) == 1

        # The officer opens the case, asks, the tipster answers, the officer lists cases:
        # nothing anywhere in the officer's chat may identify the tipster.
        await w.officer.user.press("Hỏi thêm")
        await w.officer.user.send("Bạn có nhớ biển số xe không?")
        await h.deliver()
        await u.press("Trả lời")
        await u.send("Không có biển, xe Wave màu đỏ")
        await h.deliver()
        await w.officer.user.send("/viec")
        await w.officer.user.press("BY-26-000001")
        assert leaks(all_strings(h, w.officer.chat)) == []
        assert all(str(TIPSTER_ID) not in str(s.params) for s in h.tg.sent_to(w.officer.chat))


async def test_named_report_shows_name_and_phone(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await tipster(h)
        await file_tip(u, anonymous=False)
        await h.deliver()
        text = h.tg.sent_to(w.officer.chat)[0].text or ""
        assert TIPSTER_NAME in text and "+84912345678" in text
        assert "ẩn danh" not in text


# --- reference, response time, the one-time note, emergency words ------------------------


async def test_reference_response_time_and_one_time_false_report_note(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        first = await file_tip(u)
        first_text = u.texts()[-1]
        second = await file_tip(u, "Nhà trọ số 12 có năm người ở không khai báo tạm trú",
                                category="Vi phạm cư trú")
        second_text = u.texts()[-1]
        assert REF_RE.match(first) and REF_RE.match(second)
        assert (first, second) == ("BY-26-000001", "BY-26-000002")  # year of the clock: 2026
        assert "thời gian phản hồi dự kiến: trong 1 giờ" in first_text  # TOGIAC: 60 min
        assert "thời gian phản hồi dự kiến: trong 1 ngày" in second_text  # CUTRU: 1440 min
        note = "cố ý báo tin sai sự thật"
        assert note in first_text and note not in second_text
        assert sum(note in t for t in u.texts()) == 1
        assert (await person_of(h, TIPSTER_ID)).false_report_note_shown


@pytest.mark.parametrize("words", ["Có cướp ở đầu hẻm, hai người cầm dao",
                                   "CHÁY NHÀ ở số 7 Trần Phú"])
async def test_emergency_words_show_the_numbers_at_once(make_config, sqlite_url, clock, words):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        await u.press("Tố giác tội phạm")
        out = texts(await u.send(words))
        # The numbers come first, before the next question.
        assert all(n in out[0] for n in ("113", "114", "115")), out
        assert "xảy ra ở đâu" in out[-1]


async def test_ordinary_words_do_not_raise_the_alarm(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        await u.press("Tố giác tội phạm")
        out = texts(await u.send("Mất xe đạp trước cổng trường tiểu học"))
        assert not any("113" in t for t in out), out


# --- bad input at every step ------------------------------------------------------------


async def test_bad_input_at_every_step_reasks_and_keeps_the_draft(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")

        # Category: free text is refused; the label typed without accents is accepted.
        out = texts(await u.send("trộm chó"))
        assert "Hãy chọn một mục" in out[0] and "báo về việc gì" in out[-1]
        out = texts(await u.send("to giac toi pham"))
        assert "kể lại điều bạn thấy" in out[-1]

        # Description: blank, 4001 characters, a file that is no image.
        out = texts(await u.send("   "))
        assert "mô tả sự việc bằng chữ" in out[-1]
        out = texts(await u.send("x" * 4001))
        assert "4001" in out[-1] and "4000" in out[-1]
        out = texts(await send_document(u, b"%PDF-1.4 hello", "don.pdf", "application/pdf"))
        assert any("Chỉ nhận ảnh" in t for t in out), out
        assert not any("Đã nhận ảnh" in t for t in out), out
        description = "Hai thanh niên lạ mặt đi xe máy, nhìn vào các nhà trong hẻm"
        out = texts(await u.send(description))
        assert "xảy ra ở đâu" in out[-1]

        # Where: free text refused; the home area's label typed without accents works.
        out = texts(await u.send("gần chợ"))
        assert "Hãy chọn một mục" in out[0] and "xảy ra ở đâu" in out[-1]
        out = texts(await u.send("to dan pho 1"))
        assert "Địa điểm cụ thể" in out[-1]

        # Place: blank refused.
        out = texts(await u.send("  "))
        assert "trả lời bằng chữ" in out[0] and "Địa điểm cụ thể" in out[-1]
        await u.send("Hẻm 45 Lê Lợi")

        # When: free text refused, the label without accents accepted.
        out = texts(await u.send("hôm qua"))
        assert "Hãy chọn một mục" in out[0] and "khi nào" in out[-1]
        out = texts(await u.send("dang xay ra / vua xong"))
        assert "Gửi ảnh nếu có (0/5)" in out[-1]

        # Photos: text, a non-image file, five photos, then a sixth.
        out = texts(await u.send("không có ảnh"))
        assert "Hãy gửi ảnh" in out[0] and "(0/5)" in out[-1]
        out = texts(await send_document(u, b"MZ\x90\x00 not an image", "anh.exe",
                                        "application/octet-stream"))
        assert "Chỉ nhận ảnh" in out[0] and "(0/5)" in out[-1], out
        for i in range(5):
            out = texts(await u.photo(jpeg(i)))
        assert "(5/5)" in out[-1]
        out = texts(await u.photo(jpeg(99)))
        assert "Đã đủ 5 ảnh" in out[0] and "(5/5)" in out[-1], out
        await u.press("Xong phần ảnh")

        # Anonymous or named: free text refused, the label without accents accepted.
        out = texts(await u.send("không biết"))
        assert "Hãy chọn một mục" in out[0] and "ẩn danh hay" in out[-1]
        out = texts(await u.send("an danh"))
        review = out[-1]
        assert "Kiểm tra lại trước khi gửi" in review

        # Review: free text refused; everything entered is still there.
        out = texts(await u.send("gửi đi"))
        assert "Hãy chọn một mục" in out[0]
        review = out[-1]
        for part in ("Tố giác tội phạm", description, "Tổ dân phố 1 — Hẻm 45 Lê Lợi",
                     "Đang xảy ra", "Ảnh: 5", "Ẩn danh"):
            assert part in review, (part, review)

        ref = re.findall(r"BY-\d\d-\d{6}", texts(await u.press("Gửi tin"))[-1])[0]
        case = await case_by_ref(h, ref)
        assert (case.description, case.place_text, case.anonymous) == (
            description, "Hẻm 45 Lê Lợi", True)
        async with h.rt.deps.db.read() as s:
            photos = (await s.execute(select(func.count()).select_from(Attachment)
                                      .where(Attachment.case_id == case.id))).scalar_one()
        assert photos == 5
        await h.deliver()
        assert [m.method for m in h.tg.sent_to(w.officer.chat)].count("sendPhoto") == 5


async def test_a_photo_sent_while_describing_is_kept(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        await u.press("Tố giác tội phạm")
        out = texts(await u.photo(PNG))
        assert "Đã nhận ảnh" in out[-1]
        await u.send("Xe lạ đỗ trước nhà nhiều đêm")
        await u.press("Tổ dân phố 1")
        await u.press("Bỏ qua")
        await u.press("Đang xảy ra")
        assert "(1/5)" in u.last_text()


async def test_a_shared_location_places_the_tip_and_reaches_the_officer(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        await u.press("Người, xe, hoạt động khả nghi")
        await u.send("Xe tải lạ đỗ ở bãi đất trống ban đêm")
        out = texts(await u.location(16.06778, 108.22083))
        assert "Địa điểm cụ thể" in out[-1]
        await u.send("Bãi đất trống cuối đường Bạch Đằng")
        await u.press("Sớm hơn trong hôm nay")
        await u.press("Bỏ qua")
        await u.press("Ẩn danh")
        assert "Tổ dân phố 1 — Bãi đất trống cuối đường Bạch Đằng 📍" in u.last_text()
        await u.press("Gửi tin")
        await h.deliver()
        text = h.tg.sent_to(w.officer.chat)[0].text or ""
        assert "16.06778" in text and "108.22083" in text and "Sớm hơn trong hôm nay" in text


# --- cancelling and editing a draft ---------------------------------------------------


async def test_cancel_with_a_draft_asks_first_and_resumes_the_same_step(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        await u.press("Tố giác tội phạm")
        await u.send("Người lạ trèo tường nhà số 9")
        await u.press("Tổ dân phố 1")
        await u.send("Số 9 Lê Lợi")
        await u.press("Đang xảy ra")
        await u.photo(JPEG)
        assert "(1/5)" in u.last_text()

        out = texts(await u.send("/huy"))
        assert "Hủy bản tin đang soạn?" in out[-1]
        out = texts(await u.press("Tiếp tục soạn"))
        assert "Gửi ảnh nếu có (1/5)" in out[-1]  # the same step, the photo still there
        await u.press("Xong phần ảnh")
        await u.press("Ẩn danh")
        review = u.last_text()
        for part in ("Người lạ trèo tường nhà số 9", "Số 9 Lê Lợi", "Ảnh: 1"):
            assert part in review

        # /huy from the review, then really discard: no case is created.
        await u.send("/huy")
        out = texts(await u.press("Hủy tin"))
        assert "Đã hủy bản tin" in out[0]
        assert await count_cases(h) == 0
        out = texts(await u.send("/huy"))
        assert "Không có việc gì đang làm" in out[0]


async def test_cancel_before_anything_was_written_needs_no_confirmation(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        await u.send("/baotin")
        out = texts(await u.send("/huy"))
        assert "Đã dừng" in out[0]


EDITS = [
    ("✏️ Loại", [("press", "Người, xe, hoạt động")], "Loại: Người, xe, hoạt động khả nghi",
     "Loại: Tố giác tội phạm"),
    ("✏️ Nội dung", [("send", "Ba người lạ, một xe tải nhỏ màu trắng")],
     "Nội dung: Ba người lạ, một xe tải nhỏ màu trắng", "Hai thanh niên lạ mặt"),
    ("✏️ Nơi", [("press", "Tổ dân phố 1"), ("send", "Chợ Hàn, cổng số 2")],
     "Nơi: Tổ dân phố 1 — Chợ Hàn, cổng số 2", "Hẻm 45 Lê Lợi"),
    ("✏️ Thời điểm", [("press", "Thời điểm khác"), ("send", "Tối qua khoảng 22 giờ")],
     "Thời điểm: Tối qua khoảng 22 giờ", "Đang xảy ra"),
    ("✏️ Ảnh", [("photo", "3"), ("press", "Xong phần ảnh")], "Ảnh: 2", "Ảnh: 1"),
    ("✏️ Ẩn danh", [("press", "Kèm tên")], "Người báo: 👤 Kèm tên", "Người báo: 🕶 Ẩn danh"),
]


async def test_editing_each_field_returns_to_the_review_with_the_rest_kept(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await tipster(h)
        description = "Hai thanh niên lạ mặt nhìn vào các nhà trong hẻm"
        await draft_tip(u, description, photos=[jpeg(1)])
        original = u.last_text()
        current = original
        for button, actions, expected, replaced in EDITS:
            await u.press(button)
            for kind, arg in actions:
                if kind == "press":
                    await u.press(arg)
                elif kind == "send":
                    await u.send(arg)
                else:
                    await u.photo(jpeg(int(arg)))
            review = u.last_text()
            assert "Kiểm tra lại trước khi gửi" in review, (button, review)
            assert expected in review and replaced not in review, (button, review)
            # Every other line is unchanged.
            before = [line for line in current.splitlines() if not line.startswith(
                expected.split(":")[0])]
            after = [line for line in review.splitlines() if not line.startswith(
                expected.split(":")[0])]
            assert before == after, (button, before, after)
            current = review
        ref = re.findall(r"BY-\d\d-\d{6}", texts(await u.press("Gửi tin"))[-1])[0]
        case = await case_by_ref(h, ref)
        assert case.category_code == "NGHIVAN"
        assert case.description == "Ba người lạ, một xe tải nhỏ màu trắng"
        assert case.place_text == "Chợ Hàn, cổng số 2"
        assert case.occurred == "Tối qua khoảng 22 giờ"
        assert case.anonymous is False


async def test_draft_photos_can_be_removed_and_the_rest_are_kept(make_config, sqlite_url,
                                                                 clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await tipster(h)
        await draft_tip(u, photos=[jpeg(1), jpeg(2), jpeg(3)])
        assert "Ảnh: 3" in u.last_text()

        # "✏️ Ảnh" now offers to remove one: the photos come back numbered to choose from.
        out = await u.press("✏️ Ảnh")
        assert "Gửi ảnh nếu có (3/5)" in (out[-1].text or "")
        out = await u.press("Xóa ảnh")
        shown = [m for m in out if m.method == "sendPhoto"]
        assert [(m.photo, m.text) for m in shown] == [(jpeg(1), "📷 1"), (jpeg(2), "📷 2"),
                                                     (jpeg(3), "📷 3")]
        assert "Chọn ảnh muốn xóa" in (out[-1].text or "")
        out = texts(await u.send("ảnh thứ hai"))  # free text: choose a button
        assert "Hãy chọn một mục" in out[0] and "Chọn ảnh muốn xóa" in out[-1]
        out = texts(await u.press("Ảnh 2"))
        assert out[0] == "Đã xóa ảnh 2." and "Gửi ảnh nếu có (2/5)" in out[-1]
        # Going back removes nothing; adding still works; done returns to the review.
        await u.press("Xóa ảnh")
        out = texts(await u.press("Quay lại"))
        assert "Gửi ảnh nếu có (2/5)" in out[-1]
        out = texts(await u.photo(jpeg(4)))
        assert "Gửi ảnh nếu có (3/5)" in out[-1]
        await u.press("Xóa ảnh")
        await u.press("Ảnh 1")
        out = texts(await u.press("Xong phần ảnh"))
        assert "Kiểm tra lại trước khi gửi" in out[-1] and "Ảnh: 2" in out[-1]

        ref = re.findall(r"BY-\d\d-\d{6}", texts(await u.press("Gửi tin"))[-1])[0]
        await h.deliver()
        sent = [m.photo for m in h.tg.sent_to(w.officer.chat) if m.method == "sendPhoto"]
        assert sent == [jpeg(3), jpeg(4)]
        case = await case_by_ref(h, ref)
        async with h.rt.deps.db.read() as s:
            kept = (await s.execute(select(func.count()).select_from(Attachment)
                                    .where(Attachment.case_id == case.id))).scalar_one()
        assert kept == 2
        # Removing every photo leaves the skip button and no remove button.
        await draft_tip(u, photos=[jpeg(5)])
        await u.press("✏️ Ảnh")
        await u.press("Xóa ảnh")
        out = await u.press("Ảnh 1")
        labels = str(out[-1].reply_markup)
        assert "Gửi ảnh nếu có (0/5)" in (out[-1].text or "")
        assert "Bỏ qua" in labels and "Xóa ảnh" not in labels


# --- at-most-once intake ---------------------------------------------------------------


async def test_a_duplicated_webhook_delivery_creates_one_case(make_config, db_url, clock):
    async with harness(make_config, db_url, clock, mode="webhook") as h:
        w = await seed_world(h)
        u = await tipster(h)
        await draft_tip(u)
        captured: list[dict[str, Any]] = []
        original = h.tg.inject_update

        async def spy(update: dict[str, Any]) -> int:
            update_id = await original(update)  # the fake numbers the update in place
            captured.append(copy.deepcopy(update))
            return update_id

        h.tg.inject_update = spy  # type: ignore[method-assign]
        await u.press("Gửi tin")
        h.tg.inject_update = original  # type: ignore[method-assign]
        (submit,) = captured
        # Telegram retries a webhook it thinks failed: once after, twice at the same time.
        await h.tg.inject_update(copy.deepcopy(submit))
        await asyncio.gather(h.tg.inject_update(copy.deepcopy(submit)),
                             h.tg.inject_update(copy.deepcopy(submit)))
        statuses = [d.status for d in h.tg.webhook_deliveries
                    if d.update_id == submit["update_id"]]
        assert statuses == [200, 200, 200, 200]
        assert await count_cases(h) == 1
        assert sum("Đã nhận tin" in t for t in u.texts()) == 1
        await h.deliver()
        assert sum("Tin mới" in t for t in texts(h.tg.sent_to(w.officer.chat))) == 1
