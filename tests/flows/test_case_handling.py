"""After the tip: the officer acknowledges, asks, reassigns, notes and closes; the tipster
answers (text and photos), rates, and follows their cases — all over the fake Telegram
server, with each side seeing only what it should."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from storage.tables import AuditEntry, CaseMessage
from tests.support.seed import (
    JPEG,
    JPEG_2,
    add_staff,
    all_strings,
    audit_count,
    case_by_ref,
    deliveries,
    file_tip,
    harness,
    onboard,
    seed_world,
    send_document,
    texts,
)

TIPSTER_ID = 7_654_321
# Everything that would identify the tipster: name, username, user id, phone digits.
TIPSTER = ("Nguyễn Thị Hoa", "hoa_nguyen_92", str(TIPSTER_ID), "912345678")
# Everything that would identify an officer to the tipster (the bot is "Bình Yên", so the
# officer's given name alone is no evidence).
OFFICER_IDENTITY = ("Trần Văn Bình", "Trần Văn", "binh_ca_haichau", "9001", "+84905111222",
                    "905111222", "Lê Thị Cúc", "cuc_ca_haichau", "9002", "Phạm Minh Đức",
                    "duc_truongcaphuong", "9101")


def leaks(strings: list[str], identity: tuple[str, ...]) -> list[str]:
    return [f"{piece!r} in {s!r}" for s in strings for piece in identity if piece in s]


def refs(text: str) -> list[str]:
    return re.findall(r"BY-\d\d-\d{6}", text)


async def setup(h: Any) -> tuple[Any, Any, str]:
    w = await seed_world(h)
    u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa", "hoa_nguyen_92")
    ref = await file_tip(u)
    await h.deliver()
    for member in w.staff.values():
        member.user.inbox()  # what was delivered so far is not a reply to the next press
    u.inbox()
    return w, u, ref


async def test_relay_both_ways_with_photos_keeps_both_sides_anonymous(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u, ref = await setup(h)
        officer = w.officer.user

        # The officer asks with a photo and a caption.
        out = texts(await officer.press("Hỏi thêm"))
        assert ref in out[-1]
        h.tg.reset_records()
        uid = await h.tg.user_sends_photo(officer.user_id, JPEG, caption="Có phải xe này không?",
                                          first_name=officer.first_name)
        await h.handled(uid)
        assert "Đã gửi câu hỏi" in texts(h.tg.sent_to(officer.chat))[-1]
        await h.deliver()
        (question,) = h.tg.sent_to(u.chat)
        assert question.method == "sendPhoto" and question.photo == JPEG
        assert "Cán bộ phụ trách hỏi thêm" in (question.text or "")
        assert "Có phải xe này không?" in (question.text or "")
        answer_button = question.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
        assert "Trả lời" in answer_button["text"]

        # The tipster answers with text, then a photo: both reach the officer.
        u.seen = len(h.tg.sent_to(u.chat))
        await u.press("Trả lời")
        assert "Đã gửi tới cán bộ phụ trách" in texts(await u.send("Đúng rồi, xe Wave đỏ"))[0]
        assert "Đã gửi tới cán bộ phụ trách" in texts(await u.photo(JPEG_2))[0]
        await h.deliver()
        got = h.tg.sent_to(officer.chat)
        relayed = [m for m in got if "Người báo tin" in (m.text or "")]
        assert len(relayed) == 2
        assert "Đúng rồi, xe Wave đỏ" in (relayed[0].text or "")
        assert relayed[1].method == "sendPhoto" and relayed[1].photo == JPEG_2
        # The officer can act from the relayed message.
        assert "!ack:" in str(relayed[0].reply_markup)
        # Done answering: back to the menu; later messages are not relayed.
        await u.press("Xong")
        await u.send("cảm ơn")
        await h.deliver()
        assert len([m for m in h.tg.sent_to(officer.chat)
                    if "Người báo tin" in (m.text or "")]) == 2

        # Neither side learnt who the other is.
        assert leaks(all_strings(h, u.chat), OFFICER_IDENTITY) == []
        assert leaks(all_strings(h, officer.chat), TIPSTER) == []
        case = await case_by_ref(h, ref)
        async with h.rt.deps.db.read() as s:
            authors = [m.author for m in (await s.execute(
                select(CaseMessage).where(CaseMessage.case_id == case.id)
                .order_by(CaseMessage.id))).scalars()]
        assert authors == ["reporter", "staff", "reporter", "reporter"]


async def test_acknowledge_first_press_wins_and_the_tipster_is_told(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        out = texts(await w.officer.user.press("Tiếp nhận"))
        assert "Đã tiếp nhận tin" in out[0]
        case = await case_by_ref(h, ref)
        out = texts(await w.officer2.user.press_payload(f"!ack:{case.id}"))
        assert "đã được tiếp nhận trước đó" in out[0]
        await h.deliver()
        assert sum("Cán bộ phụ trách đã tiếp nhận" in t for t in u.texts()) == 1
        case = await case_by_ref(h, ref)
        assert case.status == "acknowledged" and case.acknowledged_at == clock.now
        assert await audit_count(h, "case.ack") == 1


async def test_reassign_then_close_with_outcome_reason_and_rating(make_config, sqlite_url,
                                                                  clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        case = await case_by_ref(h, ref)
        assert case.assignee_id == w.officer.person_id

        out = texts(await w.officer.user.press("Chuyển"))
        assert "Chuyển tin" in out[-1] and "Lê Thị Cúc" in str(h.tg.last(w.officer.chat)
                                                              .reply_markup)
        out = texts(await w.officer.user.press("Lê Thị Cúc"))
        assert "Đã chuyển tin" in out[0]
        await h.deliver()
        forwarded = h.tg.sent_to(w.officer2.chat)
        assert "Tin được chuyển cho đồng chí" in (forwarded[0].text or "")
        assert ref in (forwarded[0].text or "")
        case = await case_by_ref(h, ref)
        assert case.assignee_id == w.officer2.person_id
        assert await audit_count(h, "case.reassign") == 1

        # The new officer closes it: an outcome, then a reason in words.
        officer2 = w.officer2.user
        await officer2.press("Kết thúc")
        out = texts(await officer2.send("xong"))
        assert "Hãy chọn một mục" in out[0]
        await officer2.press("Đã giải quyết")
        out = texts(await officer2.send("ok"))
        assert "Cần ghi lý do" in out[0]
        reason = "Đã mời hai thanh niên về trụ sở phường làm việc, xác minh không có trộm cắp"
        out = texts(await officer2.send(reason))
        assert "Đã kết thúc tin" in out[0]
        await h.deliver()
        closed = h.tg.sent_to(u.chat)[-1]
        text = closed.text or ""
        assert f"Tin {ref} đã được xử lý xong" in text
        assert "Kết quả: <b>Đã giải quyết</b>" in text and reason in text
        assert "đánh giá" in text
        stars = [b["text"] for row in closed.reply_markup["inline_keyboard"]  # type: ignore[index]
                 for b in row]
        assert stars == ["⭐" * n for n in range(1, 6)]
        case = await case_by_ref(h, ref)
        assert (case.status, case.outcome, case.outcome_note) == ("closed", "resolved", reason)

        await u.press("⭐⭐⭐⭐")
        assert "Cảm ơn bạn đã đánh giá" in u.last_text()
        assert (await case_by_ref(h, ref)).rating == 4
        # Somebody else cannot rate it.
        other = await onboard(h, 7_000_002, "Khách")
        await other.press_payload(f"!rate:{case.id}:1")
        assert (await case_by_ref(h, ref)).rating == 4
        assert await audit_count(h, "case.close") == 1
        # Closed twice? No.
        out = texts(await w.officer.user.press_payload(f"!close:{case.id}"))
        assert "đã kết thúc" in out[0]
        assert leaks(all_strings(h, u.chat), OFFICER_IDENTITY) == []


async def test_my_reports_lists_cases_with_their_status(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa")
        assert "chưa gửi tin nào" in texts(await u.send("/tincuatoi"))[0]
        first = await file_tip(u)
        # Not delivered yet: the list must not claim the officer has it.
        out = await u.send("/tincuatoi")
        assert f"{first} · chờ chuyển" in str(out[-1].reply_markup)
        await h.deliver()
        clock.advance(minutes=5)
        second = await file_tip(u, "Tiếng ồn karaoke sau 23 giờ ở số 20",
                                category="Mất trật tự công cộng")
        await h.deliver()
        case = await case_by_ref(h, first)
        await w.officer.user.press_payload(f"!ack:{case.id}")
        out = await u.send("/tincuatoi")
        markup = str(out[-1].reply_markup)
        assert "Các tin bạn đã gửi" in (out[-1].text or "")
        assert f"{first} · đang xử lý" in markup
        assert f"{second} · đã chuyển cán bộ" in markup
        assert markup.index(second) < markup.index(first)  # newest first
        # Another resident sees only their own.
        other = await onboard(h, 7_000_002, "Khách")
        assert "chưa gửi tin nào" in texts(await other.send("/tincuatoi"))[0]
        out = texts(await other.press_payload(f"!mycase:{case.id}"))
        assert "không thuộc" in out[0]


async def test_my_cases_for_officers_oldest_first_with_age_and_overdue_mark(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, TIPSTER_ID, "Nguyễn Thị Hoa")
        r1 = await file_tip(u)  # TOGIAC: acknowledge within 1 hour
        clock.advance(minutes=30)
        r2 = await file_tip(u, "Nghi mua bán ma túy ở quán nước cuối hẻm",
                            category="Tệ nạn xã hội")
        clock.advance(minutes=20)
        r3 = await file_tip(u, "Đèn đường hỏng, tối om", category="Khác")
        await h.deliver()
        clock.advance(minutes=20)  # r1 is 70 min old (overdue), r2 40, r3 20

        out = await w.officer.user.send("/viec")
        assert "Có 3 tin đang mở (cũ nhất trước)" in (out[-1].text or "")
        rows = [r[0]["text"] for r in out[-1].reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert [refs(r)[0] for r in rows] == [r1, r2, r3]
        assert rows[0].startswith("⏰ ") and "1 giờ" in rows[0]
        assert not rows[1].startswith("⏰") and "40 phút" in rows[1]
        assert not rows[2].startswith("⏰") and "20 phút" in rows[2]

        c2, c3 = await case_by_ref(h, r2), await case_by_ref(h, r3)
        await w.officer.user.press_payload(f"!ack:{c2.id}")
        await w.officer.user.press_payload(f"!close:{c3.id}")
        await w.officer.user.press("Trùng với tin đã có")
        await w.officer.user.send("Đã có tin BY-26-000001 cùng nội dung")
        out = await w.officer.user.send("/viec")
        rows = [r[0]["text"] for r in out[-1].reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert [refs(r)[0] for r in rows] == [r1, r2]

        # An officer of another commune has nothing; a resident may not ask.
        assert "Không có tin nào" in texts(await w.other_officer.user.send("/viec"))[0]
        assert "chỉ dành cho cán bộ" in texts(await u.send("/viec"))[-1]


async def test_staff_notes_are_never_shown_to_the_tipster(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        case = await case_by_ref(h, ref)
        note = "Nghi là nhóm trộm chó phường bên, đối chiếu camera nhà số 12"
        await w.officer.user.press_payload(f"!note:{case.id}")
        out = texts(await w.officer.user.send(note))
        assert "Đã lưu ghi chú" in out[0]
        detail = texts(await w.officer.user.press_payload(f"!case:{case.id}"))[0]
        assert note in detail and "Ghi chú" in detail
        # The officer asks something too, so the tipster's thread is not empty.
        await w.officer.user.press_payload(f"!ask:{case.id}")
        await w.officer.user.send("Bạn thấy họ lúc mấy giờ?")
        await h.deliver()

        await u.send("/tincuatoi")
        mine = texts(await u.press(ref))[0]
        assert "Bạn thấy họ lúc mấy giờ?" in mine
        assert note not in mine
        assert not any(note in s for s in all_strings(h, u.chat))
        assert not any(note in str(d.payload) for d in await deliveries(h))


async def test_case_actions_are_limited_to_the_officers_areas(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w, u, ref = await setup(h)
        case = await case_by_ref(h, ref)  # in Tổ dân phố 1, Phường Hải Châu
        village2_officer = await add_staff(h, 9401, "Hồ Văn Lâm", "officer", w.village2_id)
        for member in (w.other_officer.user, village2_officer.user, u):
            for verb in ("ack", "case", "ask", "fwd", "close", "note"):
                out = texts(await member.press_payload(f"!{verb}:{case.id}"))
                assert "không thuộc địa bàn" in out[0], (member.user_id, verb, out)
        after = await case_by_ref(h, ref)
        assert (after.status, after.acknowledged_at, after.assignee_id) == (
            "routed", None, w.officer.person_id)
        assert await audit_count(h, "case.ack") == 0
        # A leader of the commune and the city may act on it.
        out = texts(await w.leader.user.press_payload(f"!case:{case.id}"))
        assert ref in out[0]
        out = texts(await w.province_leader.user.press_payload(f"!ack:{case.id}"))
        assert "Đã tiếp nhận tin" in out[0]
        async with h.rt.deps.db.read() as s:
            acks = (await s.execute(select(AuditEntry).where(AuditEntry.action == "case.ack"))
                    ).scalars().all()
        assert [a.actor_id for a in acks] == [w.province_leader.person_id]


async def test_reassigning_tells_the_tipster_and_restarts_the_acknowledge_timer(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w, u, ref = await setup(h)  # TOGIAC: acknowledge within 60 minutes
        clock.advance(minutes=50)
        await w.officer.user.press("Chuyển")
        await w.officer.user.press("Lê Thị Cúc")
        await h.deliver()
        told = [t for t in u.texts() if "chuyển cho một cán bộ khác" in t]
        assert told == [f"🔁 Tin {ref} đã được chuyển cho một cán bộ khác phụ trách tiếp. "
                        "Bạn vẫn trao đổi qua Bình Yên như trước."]
        assert leaks(all_strings(h, u.chat), OFFICER_IDENTITY) == []

        # The new officer gets a whole acknowledge window from the hand-over: nothing fires
        # at the original deadline, and the old officer is not reminded.
        clock.advance(minutes=15)
        assert await h.tick() == 0
        clock.advance(minutes=46)  # 60 minutes after the hand-over
        assert await h.tick() == 1
        await h.deliver()
        assert sum("⏰ Nhắc" in t for t in texts(h.tg.sent_to(w.officer2.chat))) == 1
        assert not any("⏰ Nhắc" in t for t in texts(h.tg.sent_to(w.officer.chat)))
        assert sum("chưa được tiếp nhận đúng hạn" in t
                   for t in texts(h.tg.sent_to(w.leader.chat))) == 1

        # Reassigning an acknowledged case starts no timer.
        await w.officer2.user.press_payload(f"!ack:{(await case_by_ref(h, ref)).id}")
        await w.officer2.user.press_payload(f"!fwd:{(await case_by_ref(h, ref)).id}")
        await w.officer2.user.press("Trần Văn Bình")
        clock.advance(hours=3)
        assert await h.tick() == 0


async def test_a_refused_photo_is_explained_on_both_sides_and_the_step_kept(
        make_config, sqlite_url, clock):
    overrides = {"limits": {"photo_max_bytes": 4096}}
    async with harness(make_config, sqlite_url, clock, overrides=overrides) as h:
        w, u, ref = await setup(h)
        officer = w.officer.user
        big = JPEG + b"\x00" * 5000

        # The officer's question: too big, then not an image — refused with the reason,
        # caption and all; the step stays, so the next message is the question.
        await officer.press("Hỏi thêm")
        out = texts(await officer.photo(big, caption="Có phải xe này không?"))
        assert out == ["Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB."]
        out = texts(await send_document(officer, b"%PDF-1.4 bien ban", "bb.pdf",
                                        "application/pdf"))
        assert out == ["Chỉ nhận ảnh JPEG, PNG hoặc WebP."]
        await h.deliver()
        assert not any("Có phải xe này" in t for t in u.texts())
        out = texts(await officer.photo(JPEG, caption="Có phải xe này không?"))
        assert out == [f"Đã gửi câu hỏi cho người báo tin {ref}."]
        await h.deliver()
        question = h.tg.sent_to(u.chat)[-1]
        assert question.photo == JPEG and "Có phải xe này không?" in (question.text or "")

        # The tipster's answer: the same reasons, and the step waits for a usable one.
        await u.press("Trả lời")
        out = texts(await u.photo(big, caption="Đúng xe này"))
        assert out == ["Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB."]
        out = texts(await send_document(u, b"GIF89a not accepted", "xe.gif", "image/gif"))
        assert out == ["Chỉ nhận ảnh JPEG, PNG hoặc WebP."]
        out = texts(await u.photo(JPEG_2, caption="Đúng xe này"))
        assert out[0].startswith(f"Đã gửi tới cán bộ phụ trách (tin {ref}).")
        # A swipe-reply with a refused photo is explained the same way.
        out = texts(await u.photo(big, reply_to=question))
        assert out == ["Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB."]
        await h.deliver()
        relayed = [m for m in h.tg.sent_to(officer.chat) if "Người báo tin" in (m.text or "")]
        assert [(m.photo, "Đúng xe này" in (m.text or "")) for m in relayed] == [(JPEG_2, True)]
