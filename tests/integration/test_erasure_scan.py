"""Erasure leaves no trace of the person in any column of any table — on SQLite (the file
and its WAL read as raw bytes too) and on PostgreSQL — while their reports stay with the
police, unlinked, and their declaration stays until its retention ends.

The person uses everything first: Telegram and a linked Zalo account, a group chat,
notice topics, a registered place and a declaration, an anonymous report with a photo
(answering the officer's question) and a named one, and a copy of their data."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.logs import conversation_tag
from bot.services import arrivals, privacy
from storage.tables import (
    Arrival,
    Attachment,
    AuditEntry,
    Case,
    CaseRelay,
    Guest,
    Identity,
    Person,
    Place,
    PrivacyRequest,
)
from tests.flows.arrival_steps import AN, declare
from tests.flows.privacy_steps import (
    checkpoint,
    person_needles,
    raw_sqlite_hits,
    sqlite_path,
    traces,
)
from tests.support.seed import file_tip, jpeg, onboard, person_of, seed_world
from tests.support.zalo_harness import ZaloHarness

NAME = "Nguyễn Thị Hồng Nhung"
USER, USERNAME = 5123456789, "hongnhung_dn"
ZID, ZNAME = "8204719365012837465", "Nhung Nguyễn"
GROUP = -1001987654321
PHONE = "+84912345678"
ANON = "Hai thanh niên lạ mặt đi xe máy không biển số nhìn vào các nhà trong hẻm 45"
NAMED = "Quán karaoke ở tổ 1 mở nhạc lớn sau 23 giờ đêm qua"


def text_of(sent) -> str:
    return "\n".join(s.text or "" for s in sent)


async def count(h, table, *where) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(table).where(*where))
                    ).scalar_one())


async def test_erasure_leaves_no_trace_and_the_police_keep_the_reports(
        make_config, db_url, clock):
    async with ZaloHarness(make_config, db_url, clock) as h:
        w = await seed_world(h, officer2=False, province_leader=False, other_officer=False)
        officer = w.officer.user
        db = h.rt.deps.db

        # --- the person uses everything -------------------------------------------------
        u = await onboard(h, USER, NAME, USERNAME, phone="0912 345 678")
        pid = (await person_of(h, USER)).id
        out = text_of(await u.send("/lienketzalo"))
        code = re.search(r"/lienketzalo ([A-Z0-9]{8})", out).group(1)  # type: ignore[union-attr]
        zalo = h.zuser(ZID, ZNAME)
        assert "Telegram" in text_of(await zalo.send(f"/lienketzalo {code}"))
        await h.user(USER, NAME, USERNAME, chat_id=GROUP).send("Chào cả tổ")
        await u.send("/caidat")
        await u.press("Chủ đề nhận tin")
        await u.press("Ma túy")
        async with db.uow() as s:
            await arrivals.add_place(s, host_id=pid, area_id=w.village1_id, kind="household",
                                     address="Nhà trọ 27 Nguyễn Chí Thanh", now=clock())
        await declare(u, [AN])
        await u.press("Gửi khai báo")
        anon = await file_tip(u, ANON, photos=[jpeg(7)])
        named = await file_tip(u, NAMED, category="Mất trật tự công cộng", anonymous=False)
        await h.deliver()
        assert NAME in text_of(h.tg.sent_to(officer.chat))  # the named report's sender
        # The officer asks about the anonymous report; the person answers.
        await officer.send("/viec")
        await officer.press(anon)
        await officer.press("Hỏi thêm")
        await officer.send("Xe màu gì?")
        await h.deliver()
        await u.press("Trả lời")
        await u.send("Xe Wave màu đỏ")
        await u.press("Xong")
        await h.deliver()
        # A copy of their data, still on the server when they ask to be deleted.
        await u.send("/dulieu")
        await u.press("Tải bản sao")
        await h.tick()
        await h.deliver()
        assert len([s for s in h.tg.sent_to(u.chat) if s.document]) == 3
        officer.inbox()
        needles = person_needles(
            names=[NAME, ZNAME], phone=PHONE, usernames=[USERNAME],
            accounts=[("telegram", str(USER), str(USER)), ("zalo", ZID, ZID)])
        needles.append(conversation_tag("telegram", str(GROUP), str(USER),
                                        keyed=h.rt.deps.cipher.keyed_hash))
        assert {"0912345678", "84912345678", "0912 345 678"} <= set(needles)
        # The scan finds the person where they are (it would miss nothing by accident).
        before = {(t, c) for t, c, _, _ in await traces(db, needles)}
        assert {("people", "display_name"), ("people", "phone"), ("identities", "user_id"),
                ("identities", "username"), ("case_relays", "chat_id"),
                ("conversations", "user_id"), ("deliveries", "payload")} <= before, before

        # --- delete, from the Zalo account ----------------------------------------------
        await zalo.send("/dulieu")
        await zalo.choose("Xóa dữ liệu")
        assert "Đã xóa dữ liệu của bạn" in text_of(await zalo.choose("Xóa vĩnh viễn"))

        # No trace in any column of any table.
        assert await traces(db, needles) == []
        path = sqlite_path(db_url)
        if path is not None:
            await checkpoint(db)
            assert raw_sqlite_hits(path, needles) == []
            assert raw_sqlite_hits(path, [ANON])  # what is kept is really in those bytes
        assert await count(h, Person, Person.id == pid) == 0
        assert await count(h, Identity) == len(w.staff)
        assert await count(h, CaseRelay) == 0
        assert await count(h, Place) == 0
        assert await count(h, PrivacyRequest, PrivacyRequest.person_id.is_(None)) == 2
        assert not any(p.is_file() for p in (h.config.data_path / "files").rglob("*")
                       if p.stat().st_size > 1000)  # the copies (the photo is tiny)

        # The police keep both reports, unlinked, with their text and photo.
        async with db.read() as s:
            kept = {c.ref: c for c in (await s.execute(select(Case))).scalars()}
            photo = (await s.execute(select(Attachment))).scalars().all()
        assert set(kept) == {anon, named}
        assert kept[anon].description == ANON and kept[named].description == NAMED
        assert all(c.reporter_id is None and c.anonymous for c in kept.values())
        assert len(photo) == 1 and h.rt.deps.files.path(photo[0].sha256).exists()
        await h.deliver()
        told = text_of(officer.inbox())
        assert f"Người báo tin {anon} đã xóa dữ liệu" in told
        assert f"Người báo tin {named} đã xóa dữ liệu" in told
        out = text_of(await officer.send("/viec"))
        assert anon in str(h.tg.last(officer.chat).reply_markup) and "2 tin" in out
        await officer.press(anon)
        assert NAME not in officer.last_text() and ANON in officer.last_text()
        await officer.press("Hỏi thêm")
        out = text_of(await officer.send("Còn thấy xe đó không?"))
        assert f"Không thể liên lạc với người báo tin {anon}" in out
        await officer.press(named)
        assert NAME not in officer.last_text() and "ẩn danh" in officer.last_text()

        # The declaration stays, without its host, until its retention ends.
        async with db.read() as s:
            (arrival,) = (await s.execute(select(Arrival))).scalars().all()
        assert arrival.host_id is None and arrival.place_id is None
        assert await count(h, Guest) == 1
        assert (await h.rt.scheduler.purge()).get("arrivals") == 0
        assert arrival.purge_after is not None
        clock.now = arrival.purge_after + timedelta(minutes=1)
        assert (await h.rt.scheduler.purge())["arrivals"] == 1
        assert await count(h, Arrival) == 0 and await count(h, Guest) == 0

        # And the person can start afresh, inheriting nothing (SQLite may even hand out
        # the same person id again).
        await u.send("/start")
        await u.press("Đồng ý")
        again = await person_of(h, USER)
        assert again.consent and again.phone is None
        async with db.read() as s:
            fresh = await privacy.collect(s, await s.get(Person, again.id))
            audited = (await s.execute(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.object_type == "person", AuditEntry.object_id == str(again.id))
            )).scalar_one()
        assert [fresh[k] for k in ("reports", "declarations", "places", "requests")] == [
            [], [], [], []]
        assert len(fresh["consents"]) == 1 and len(fresh["accounts"]) == 1
        assert audited == 0  # the erased person's audit entries do not point at them


async def test_erasing_a_staff_member_unlinks_every_row_that_points_at_them(database, clock):
    """A staff member who used the other features (invited by name, granted roles, linked
    a group, routing rules, notices written and approved, a declaration acknowledged,
    console sign-in, a link code, an assigned case with a note): after erasure no column
    that references ``people`` still holds their id, and nothing names them."""
    from bot.services import console_auth, linking
    from storage.crypto import FieldCipher, generate_key
    from storage.tables import (
        Area,
        Broadcast,
        CaseMessage,
        ConsoleSession,
        Delivery,
        GroupChat,
        Invite,
        LinkCode,
        RoleGrant,
        RoutingRule,
    )
    from storage.tables import Base as Tables

    now = clock()
    db = database
    async with db.uow() as s:
        area = Area(code="20242", level="commune", name="Hải Châu", type="Phường",
                    key="phuong hai chau")
        s.add(area)
        await s.flush()
        boss = Person(display_name="Phạm Minh Đức", consent=True)
        staff = Person(display_name="Trần Văn Bình Minh", phone="+84905111222", consent=True)
        s.add_all([boss, staff])
        await s.flush()
        sid = staff.id
        s.add_all([
            Identity(person_id=sid, channel="telegram", user_id="7012345678",
                     chat_id="7012345678", username="binhminh_ca"),
            RoleGrant(person_id=sid, role="officer", area_id=area.id, granted_by=boss.id),
            RoleGrant(person_id=boss.id, role="leader", area_id=area.id, granted_by=sid),
            Invite(token_hash="x" * 64, role="officer", area_id=area.id,
                   name="Trần Văn Bình Minh", expires_at=now, used_at=now, used_by=sid),
            GroupChat(channel="telegram", chat_id="-100555", title="Tổ 1", area_id=area.id,
                      linked_by=sid, linked_at=now),
            RoutingRule(area_id=area.id, category_code="TOGIAC", officer_id=sid,
                        backup_id=sid, created_by=sid),
            Arrival(ref="LT-26-000001", host_id=boss.id, area_id=area.id, address="12 Lê Lợi",
                    deadline_at=now, acknowledged_at=now, acknowledged_by=sid)])
        case = Case(ref="BY-26-000001", kind="tip", category_code="TOGIAC", area_id=area.id,
                    description="Trộm xe", assignee_id=sid, status="acknowledged")
        notice = Broadcast(author_id=sid, approved_by=sid, template="notice", body_vi="Họp tổ",
                           audience={"areas": [area.id]}, status="sent")
        s.add_all([case, notice])
        await s.flush()
        s.add(CaseMessage(case_id=case.id, author="note", staff_id=sid, body="Đã xác minh"))
        # A leader's queued copy of a notice for approval names its author; a resident
        # who shares the given name is not touched.
        s.add(Delivery(dedupe_key=f"bcreview:{notice.id}:{boss.id}:telegram:9101",
                       kind="bc_review", channel="telegram",
                       chat_id="9101", person_id=boss.id, next_attempt_at=now, created_at=now,
                       payload={"text": "Cán bộ Trần Văn Bình Minh (ĐT 0905 111 222) gửi "
                                        "thông báo chờ duyệt"}))
        s.add(Delivery(dedupe_key="digest:1", kind="digest", channel="telegram",
                       chat_id="9101", person_id=boss.id, next_attempt_at=now, created_at=now,
                       payload={"text": "Cư dân Trần Văn Bình Minh Châu hỏi về họp tổ"}))
        token = await console_auth.issue_link(s, sid, now, timedelta(minutes=15))
        await console_auth.redeem_link(s, token, now, 8)
        await linking.new_code(s, FieldCipher(generate_key()), staff, now)

    async with db.uow() as s:
        counts = await erasure_of(s, sid, now)
    assert counts["mentions"] == 1
    async with db.read() as s:
        texts = sorted(d.payload["text"] for d in (await s.execute(select(Delivery))).scalars())
    assert texts == ["Cán bộ — (ĐT —) gửi thông báo chờ duyệt",
                     "Cư dân Trần Văn Bình Minh Châu hỏi về họp tổ"]

    people_fks = [(t, fk.parent) for t in Tables.metadata.sorted_tables
                  for fk in t.foreign_keys if fk.column.table.name == "people"]
    assert len(people_fks) >= 25
    async with db.read() as s:
        left = {f"{t.name}.{c.name}": n for t, c in people_fks
                if (n := (await s.execute(select(func.count()).select_from(t)
                                          .where(c == sid))).scalar_one())}
        assert left == {}
        assert (await s.execute(select(Invite.name))).scalar_one() is None
        assert (await s.execute(select(func.count()).select_from(ConsoleSession))
                ).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(LinkCode))).scalar_one() == 0
        bc = (await s.execute(select(Broadcast))).scalar_one()
        assert bc.body_vi == "Họp tổ" and bc.author_id is None  # the notice stays
        assert (await s.execute(select(Case.status))).scalar_one() == "acknowledged"
        boss_grant = (await s.execute(select(RoleGrant))).scalar_one()
        assert boss_grant.person_id != sid and boss_grant.granted_by is None
    needles = person_needles(names=["Trần Văn Bình Minh"], phone="+84905111222",
                             usernames=["binhminh_ca"],
                             accounts=[("telegram", "7012345678", "7012345678")])
    # Only the other resident, whose name merely contains theirs, still matches.
    assert [(t, c) for t, c, _, _ in await traces(db, needles)] == [("deliveries", "payload")]


async def erasure_of(s, person_id: int, now) -> dict[str, int]:
    from bot.services import erasure

    person = await s.get(Person, person_id)
    return await erasure.erase(s, person, now)
