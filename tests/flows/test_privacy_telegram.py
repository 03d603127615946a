"""/dulieu on Telegram: see, copy (three files, every section, what was entered, IDs
masked, expiring after 24 h), correct (the name in /caidat; a submitted declaration as a
case for the area officer), withdraw consent (no notice reaches the person afterwards),
and the legal deadlines of each request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.services import arrivals, privacy
from storage.tables import AuditEntry, Case, Person, PrivacyRequest
from tests.flows.arrival_steps import AN, AN_ID, declare
from tests.flows.privacy_steps import SECTIONS, check_copy_formats, parse_copy
from tests.support import bc_world
from tests.support.bc_world import received, round_trip
from tests.support.seed import (
    add_staff,
    file_tip,
    harness,
    jpeg,
    onboard,
    person_of,
    seed_world,
)

NAME = "Nguyễn Thị Hồng Nhung"
USER = 5123456789
ADDRESS = "27 Nguyễn Chí Thanh, kiệt 3"
TIP_ANON = "=1+1 Có người lạ đứng trước cổng trường Hoà Bình, hỏi đường vào các hẻm"
TIP_NAMED = "Quán karaoke ở tổ 1 mở nhạc lớn sau 23 giờ đêm qua"


async def send_now(leader, template: str, *, urgent: bool = False) -> None:
    """The ward leader sends a notice to the own ward at once, through the composer."""
    await leader.send("/thongbao")
    await leader.press(template)
    await leader.press("Tiếp")  # the own ward is preselected
    await leader.press("Tiếp")  # residents and group chats
    await leader.press("Gửi ngay")  # shows the preview
    if urgent:
        await leader.press("🚨 Đánh dấu khẩn")
    await leader.press("Gửi ngay")
    assert "đang được gửi" in leader.last_text()


def joined(sent) -> str:
    return "\n".join(s.text or "" for s in sent)


async def resident_with_declaration(h, w):
    """Nhung: onboarded in chat (phone typed), a registered place, one declaration."""
    u = await onboard(h, USER, NAME, "hongnhung_dn", phone="0912345678")
    pid = (await person_of(h, USER)).id
    async with h.rt.deps.db.uow() as s:
        await arrivals.add_place(s, host_id=pid, area_id=w.village1_id, kind="household",
                                 address=ADDRESS, now=h.rt.deps.clock())
    await declare(u, [AN])
    await u.press("Gửi khai báo")
    u.inbox()
    return u, pid


async def requests_of(h, pid: int) -> list[PrivacyRequest]:
    async with h.rt.deps.db.read() as s:
        rows = list((await s.execute(select(PrivacyRequest).where(
            PrivacyRequest.person_id == pid).order_by(PrivacyRequest.id))).scalars())
        s.expunge_all()
        return rows


async def test_see_and_copy_hold_everything_entered(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer2=False, province_leader=False, other_officer=False)
        u, pid = await resident_with_declaration(h, w)
        await u.send("/caidat")
        await u.press("Chủ đề nhận tin")
        await u.press("Lừa đảo")  # off: every other topic stays on
        await u.press("Quay lại")
        anon = await file_tip(u, TIP_ANON, photos=[jpeg(1)])
        named = await file_tip(u, TIP_NAMED, category="Mất trật tự công cộng",
                               anonymous=False)

        # See: a plain summary, the guest's ID masked.
        await u.send("/dulieu")
        text = joined(await u.press("Xem"))
        for expected in (NAME, "+84912345678", "Tổ dân phố 1, Phường Hải Châu", "telegram",
                         "@hongnhung_dn", "Đồng ý (thông báo", ADDRESS, anon, named,
                         "Nguyễn Văn An (", "Mã yêu cầu: DL-26-"):
            assert expected in text, expected
        assert "Ma túy" in text and "Lừa đảo" not in text
        assert AN_ID not in text and AN_ID[-2:] + ")" in text

        # Copy: "preparing" at once, three files once the background job has run.
        await u.send("/dulieu")
        out = joined(await u.press("Tải bản sao"))
        assert "Đang chuẩn bị bản sao" in out and "DL-26-" in out
        assert not [s for s in h.tg.sent_to(u.chat) if s.document]
        await h.tick()
        await h.deliver()
        docs = [s for s in h.tg.sent_to(u.chat) if s.document]
        assert sorted(d.filename or "" for d in docs) == [
            "binhyen-20261123.csv", "binhyen-20261123.json", "binhyen-20261123.xlsx"]
        assert all("hết hạn sau 24 giờ" in (d.text or "") for d in docs)
        files = {d.filename or "": d.document or b"" for d in docs}
        data, csv_rows, xlsx_rows = parse_copy(files)
        check_copy_formats(data, csv_rows, xlsx_rows)
        assert all(AN_ID.encode() not in b for b in files.values())

        p = data["profile"]
        assert (p["name"], p["phone"], p["language"]) == (NAME, "+84912345678", "vi")
        assert p["home_area"] == "Tổ dân phố 1, Phường Hải Châu, Thành phố Đà Nẵng"
        assert data["accounts"] == [{"channel": "telegram", "user_id": str(USER),
                                     "chat_id": str(USER), "username": "hongnhung_dn",
                                     "since": data["accounts"][0]["since"]}]
        (consent,) = data["consents"]
        assert consent["granted"] and consent["notice_version"] == h.config.bot.notice_version
        assert consent["at"].startswith("2026-11-23T03:00")
        topics = [s["topic"] for s in data["subscriptions"]]
        assert "scams" not in topics and {"drugs", "fire", "residence"} <= set(topics)
        reports = {r["ref"]: r for r in data["reports"]}
        assert reports[anon]["description"] == TIP_ANON and reports[anon]["anonymous"]
        assert reports[anon]["photos"] == 1 and reports[anon]["place"] == "Hẻm 45 Lê Lợi"
        assert reports[named]["description"] == TIP_NAMED and not reports[named]["anonymous"]
        assert {r["status"] for r in reports.values()} == {"routed"}
        (place,) = data["places"]
        assert place["address"] == ADDRESS
        (decl,) = data["declarations"]
        (guest,) = decl["guests"]
        assert guest["full_name"] == "Nguyễn Văn An" and guest["birth_date"] == "1990-02-01"
        assert guest["id_number"] != AN_ID and guest["id_number"].endswith(AN_ID[-2:])
        assert "*" in guest["id_number"]
        assert decl["status"] == "submitted" and decl["address"] == ADDRESS
        assert [r["kind"] for r in data["requests"]] == ["see", "copy"]
        # Vietnamese text intact in every format; the "=" tip stays text in the workbook.
        formulas = [r[3] for r in csv_rows if r[2] == "description" and r[3].startswith("=")]
        assert formulas == [TIP_ANON]
        assert TIP_ANON in [r[3] for r in xlsx_rows]

        reqs = await requests_of(h, pid)
        assert [(r.kind, r.status) for r in reqs] == [("see", "completed"),
                                                      ("copy", "completed")]
        async with h.rt.deps.db.read() as s:
            actions = list((await s.execute(select(AuditEntry.action).where(
                AuditEntry.action.like("privacy.%")).order_by(AuditEntry.id))).scalars())
        assert actions == ["privacy.see", "privacy.copy", "privacy.export"]

        # The copies leave the server after 24 hours.
        shas = [h.rt.deps.files.put_any(b) for b in files.values()]
        clock.advance(hours=23)
        await h.tick()
        assert all(h.rt.deps.files.path(sha).exists() for sha in shas)
        clock.advance(hours=1, minutes=1)
        await h.tick()
        assert not any(h.rt.deps.files.path(sha).exists() for sha in shas)
        assert list(data) == list(SECTIONS)


async def test_correct_the_name_and_a_submitted_declaration(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer2=False, province_leader=False, other_officer=False)
        # A "3 in 1" team member of the street group never gets a data-protection case.
        team = await add_staff(h, 9501, "Hà Văn Tổ", "team", w.village1_id)
        u, pid = await resident_with_declaration(h, w)

        # The name, in /caidat.
        out = joined(await u.send("/caidat"))
        assert f"Tên: {NAME}" in out
        await u.press("Tên")
        assert "Tên cần có chữ cái" in joined(await u.send("1"))
        out = joined(await u.send("  Nguyễn  Thị Hồng   Nhung Lê "))
        assert "Đã lưu" in out and "Tên: Nguyễn Thị Hồng Nhung Lê" in out
        assert (await person_of(h, USER)).display_name == "Nguyễn Thị Hồng Nhung Lê"

        # /dulieu → correct → the profile: a reference, then the settings to change it.
        await u.send("/dulieu")
        await u.press("Sửa")
        out = joined(await u.press("Tên, điện thoại"))
        assert "Mã yêu cầu: DL-26-" in out and "Cài đặt" in out
        await u.press("Số điện thoại")
        out = joined(await u.contact("84987654321"))
        assert "Điện thoại: +84987654321" in out

        # A submitted declaration: only the officer can change it — a case for them.
        await u.send("/dulieu")
        await u.press("Sửa")
        out = joined(await u.press("khai báo lưu trú đã gửi"))
        assert "LT-26-000001" in out and "chỉ cán bộ phụ trách sửa được" in out
        assert "Hãy viết rõ" in joined(await u.send("ờ"))
        wish = "Khách 1 sinh ngày 02/01/1990, không phải 01/02/1990"
        out = joined(await u.send(wish))
        assert "Đã nhận yêu cầu sửa (mã DL-26-" in out and "hồ sơ BY-26-000001" in out
        async with h.rt.deps.db.read() as s:
            case = (await s.execute(select(Case))).scalar_one()
        assert (case.kind, case.category_code, case.area_id) == ("privacy", "KHAC",
                                                                 w.village1_id)
        assert case.assignee_id == w.officer.person_id and not case.anonymous
        assert "LT-26-000001" in case.description and wish in case.description
        correct = [r for r in await requests_of(h, pid) if r.kind == "correct"]
        assert [r.status for r in correct] == ["completed", "forwarded"]
        # Acknowledged at once; due within 2 working days / [privacy] complete_days.
        got = correct[1]
        assert got.received_at == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # a Monday
        assert got.ack_due_at == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
        assert got.due_at == got.received_at + timedelta(days=h.config.privacy.complete_days)

        await h.deliver()
        officer = w.officer.user
        note = officer.last_text()
        assert "BY-26-000001" in note and wish in note and "Nguyễn Thị Hồng Nhung Lê" in note
        assert not [s for s in h.tg.sent_to(team.chat) if "BY-26-000001" in (s.text or "")]
        await officer.send("/viec")
        await officer.press("BY-26-000001")
        await officer.press("Kết thúc")
        await officer.press("Đã giải quyết")
        await officer.send("Đã sửa ngày sinh của khách trong hồ sơ lưu trú")
        await h.deliver()
        assert "đã được xử lý xong" in u.last_text()
        assert [r.status for r in await requests_of(h, pid) if r.kind == "correct"] == [
            "completed", "completed"]


async def test_withdrawing_consent_stops_every_notice(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h, officer2=False, other_officer=False)
        await bc_world.residents(h, w.commune_id, [7301])  # a neighbour who stays
        u = await onboard(h, USER, NAME, "hongnhung_dn")
        leader = w.leader.user

        # A notice already on its way when consent is withdrawn is not sent either.
        await send_now(leader, "Phòng cháy chữa cháy")
        await h.tick()  # its delivery rows are written
        await u.send("/dulieu")
        explained = joined(await u.press("Rút lại đồng ý"))
        assert "ngừng gửi thông báo" in explained and "Pháp luật vẫn yêu cầu giữ" in explained
        assert "khai báo lưu trú đã gửi" in explained
        out = joined(await u.press("Rút lại đồng ý"))
        assert "Đã rút lại đồng ý (mã DL-26-" in out
        person = await person_of(h, USER)
        assert not person.consent and person.broadcasts_opt_out
        await h.deliver()

        # Notices created afterwards, routine and urgent, reach the neighbour only.
        await send_now(leader, "Lừa đảo qua điện thoại", urgent=True)
        await send_now(leader, "An toàn giao thông")
        await round_trip(h)
        assert received(h, 7301, "PHÒNG CHÁY") == 1 and received(h, 7301, "LỪA ĐẢO") == 1
        assert received(h, 7301, "GIAO THÔNG") == 1
        for needle in ("PHÒNG CHÁY", "LỪA ĐẢO", "GIAO THÔNG"):
            assert received(h, USER, needle) == 0, needle
        async with h.rt.deps.db.read() as s:
            consents = (await s.execute(select(Person.consent).where(Person.id == person.id))
                        ).scalar_one()
        assert consents is False
        # Starting again asks for consent afresh.
        out = joined(await u.send("/start"))
        assert "Đồng ý" in str(h.tg.last(USER).reply_markup) and "Bình Yên" in out


def test_deadlines_count_working_days():
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert privacy.add_working_days(friday, 2) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert privacy.add_working_days(saturday, 2) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
