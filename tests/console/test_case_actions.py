"""An officer's action in the console and the same action in chat are one use case: the
same state, one audit record each, and the tipster told the same way (still anonymous)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.tables import AuditEntry, CaseMessage
from tests.support.console import make_case, sign_in
from tests.support.seed import case_by_ref, file_tip, harness, onboard, seed_world

TIPSTER = 7_111_222


async def audits(h, action: str, ref: str) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.object_id == ref))).scalar_one())


async def system_lines(h, case_id: int) -> list[str]:
    async with h.rt.deps.db.read() as s:
        return list((await s.execute(select(CaseMessage.body).where(
            CaseMessage.case_id == case_id, CaseMessage.author == "system")
            .order_by(CaseMessage.id))).scalars())


async def test_acknowledge_ask_and_close_in_console_equal_the_same_in_chat(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        tipster = await onboard(h, TIPSTER, "Hoa")
        in_chat = await file_tip(tipster)
        on_web = await file_tip(tipster, "Có nhóm thanh niên tụ tập đua xe mỗi tối ở đầu hẻm")
        await h.deliver()
        tipster.inbox()
        a, b = await case_by_ref(h, in_chat), await case_by_ref(h, on_web)
        officer = w.officer.user
        console = await sign_in(h, w.officer.person_id)
        try:
            await officer.press_payload(f"!ack:{a.id}")
            page = await console.post(f"/console/cases/{on_web}/ack")
            assert page.status == 200 and "Đã tiếp nhận; người báo tin đã được thông báo" in page
            again = await console.post(f"/console/cases/{on_web}/ack")
            assert "đã được tiếp nhận trước đó" in again

            await officer.press_payload(f"!ask:{a.id}")
            await officer.send("Anh/chị thấy biển số xe không?")
            page = await console.post(f"/console/cases/{on_web}/ask",
                                      {"text": "Anh/chị thấy biển số xe không?"})
            assert "Đã gửi câu hỏi" in page

            await officer.press_payload(f"!close:{a.id}")
            await officer.press("Đã giải quyết")
            await officer.send("Đã xác minh, nhắc nhở các đối tượng")
            short = await console.post(f"/console/cases/{on_web}/close",
                                       {"outcome": "resolved", "reason": "ok"})
            assert "ít nhất 3 ký tự" in short
            page = await console.post(f"/console/cases/{on_web}/close", {
                "outcome": "resolved", "reason": "Đã xác minh, nhắc nhở các đối tượng"})
            assert "Đã đóng tin" in page and "Đã đóng" in page
            await h.deliver()
        finally:
            await console.close()

        a, b = await case_by_ref(h, in_chat), await case_by_ref(h, on_web)
        for field in ("status", "assignee_id", "acknowledged_at", "outcome", "outcome_note",
                      "closed_at", "escalation_level"):
            assert getattr(a, field) == getattr(b, field), field
        assert b.status == "closed" and b.assignee_id == w.officer.person_id
        for action in ("case.ack", "case.close"):
            assert await audits(h, action, in_chat) == 1 == await audits(h, action, on_web)
        chat_lines, web_lines = await system_lines(h, a.id), await system_lines(h, b.id)
        assert chat_lines == web_lines == ["acknowledged",
                                           "closed: resolved: Đã xác minh, nhắc nhở các đối tượng"]
        told = "\n".join(tipster.texts())
        for ref in (in_chat, on_web):
            assert f"Cán bộ phụ trách đã tiếp nhận tin {ref}" in told
            assert f"Tin {ref} đã được xử lý xong" in told
        assert told.count("Anh/chị thấy biển số xe không?") == 2
        assert "Trần Văn Bình" not in told and "binh_ca_haichau" not in told


async def test_reassign_and_note_from_the_console(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        tipster = await onboard(h, TIPSTER, "Xuyến")
        ref = await file_tip(tipster)
        await h.deliver()
        w.officer2.user.inbox()
        console = await sign_in(h, w.officer.person_id)
        try:
            page = await console.get(f"/console/cases/{ref}")
            assert "Lê Thị Cúc" in page and "Ẩn danh" in page and "Xuyến" not in page
            bad = await console.post(f"/console/cases/{ref}/reassign", {"officer": "99999"})
            assert "Hãy chọn một mục" in bad
            moved = await console.post(f"/console/cases/{ref}/reassign",
                                       {"officer": str(w.officer2.person_id)})
            assert "Đã chuyển tin" in moved
            noted = await console.post(f"/console/cases/{ref}/note",
                                       {"text": "Đã gọi tổ trưởng TDP 1"})
            assert "Đã lưu ghi chú" in noted and "Đã gọi tổ trưởng TDP 1" in noted
            await h.deliver()
        finally:
            await console.close()
        case = await case_by_ref(h, ref)
        assert case.assignee_id == w.officer2.person_id
        assert await audits(h, "case.reassign", ref) == 1
        assert any(ref in t and "chuyển" in t.lower() for t in w.officer2.user.texts())
        assert "Đã gọi tổ trưởng" not in "\n".join(tipster.texts())


async def test_the_board_marks_overdue_cases_and_filters(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        now = h.rt.deps.clock()
        late = await make_case(h, area_id=w.village1_id, created=now - timedelta(hours=2))
        fresh = await make_case(h, area_id=w.village2_id, created=now - timedelta(minutes=5),
                                category="LUADAO")
        old = await make_case(h, area_id=w.village1_id, created=now - timedelta(days=9),
                              ack_after=timedelta(minutes=10), category="TTCC")
        done = await make_case(h, area_id=w.village1_id, created=now - timedelta(days=1),
                               ack_after=timedelta(minutes=5), close_after=timedelta(hours=3))
        console = await sign_in(h, w.officer.person_id)
        try:
            board = await console.get("/console/cases")
            row = board.text.split(f'data-ref="{late}"')[0].rsplit("<tr", 1)[1]
            assert 'class="overdue"' in row
            for ref, mark in ((old, 'class="overdue"'), (fresh, 'class=""')):
                assert mark in board.text.split(f'data-ref="{ref}"')[0].rsplit("<tr", 1)[1]
            assert board.text.count("Quá hạn</span>") == 2 and done not in board
            only = await console.get("/console/cases?overdue=1")
            assert late in only and old in only and fresh not in only
            cat = await console.get("/console/cases?category=LUADAO")
            assert fresh in cat and late not in cat
            aged = await console.get("/console/cases?age=gt7d")
            assert old in aged and late not in aged
            closed = await console.get("/console/cases?status=closed")
            assert done in closed and late not in closed
            area = await console.get(f"/console/cases?area={w.village2_id}")
            assert fresh in area and late not in area
            nobody = await console.get("/console/cases?officer=none")
            assert late in nobody
        finally:
            await console.close()
