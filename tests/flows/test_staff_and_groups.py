"""Staff invitations, staff-only commands, and group chats over the fake Telegram server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.tables import Case, Consent, Conversation, GroupChat, Invite, RoleGrant
from tests.flows.dialogs import (
    BOT_USERNAME,
    COMMUNE,
    area_by_code,
    count,
    harness,
    invite,
    joined,
    last_buttons,
    make_staff,
    onboard,
    person_of,
    village,
)

GROUP = -1001234567890


async def roles_of(h, user_id: int) -> list[tuple[str, int]]:
    person = await person_of(h.rt.deps.db, "telegram", user_id)
    if person is None:
        return []
    async with h.rt.deps.db.read() as s:
        rows = (await s.execute(select(RoleGrant.role, RoleGrant.area_id).where(
            RoleGrant.person_id == person.id, RoleGrant.revoked_at.is_(None)))).all()
    return [(r, a) for r, a in rows]


# --------------------------------------------------------------------------- invitations

async def test_invitation_grants_the_role(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        officer = h.user(3001, "Nguyễn Văn An", "an_ca")
        await onboard(officer)
        token = await invite(db, clock(), "officer", COMMUNE)

        out = await officer.send(f"/start inv_{token}")
        text = joined(out)
        assert "Bạn được mời làm <b>cán bộ công an phụ trách địa bàn</b>" in text
        assert "Phường Hải Châu" in text
        assert await roles_of(h, 3001) == []  # nothing granted before confirming

        out = await officer.press("Nhận vai trò")
        text = joined(out)
        assert ("Bạn đã là <b>cán bộ công an phụ trách địa bàn</b> tại "
                "<b>Phường Hải Châu</b>") in text
        assert "/viec" in text  # the staff commands are explained
        commune = await area_by_code(db, COMMUNE)
        assert await roles_of(h, 3001) == [("officer", commune.id)]
        async with db.read() as s:
            inv = (await s.execute(select(Invite))).scalar_one()
        assert inv.used_at is not None
        # The welcome text shows the role from now on.
        out = await officer.send("/start")
        assert "Vai trò của bạn: cán bộ công an phụ trách địa bàn — Phường Hải Châu" in joined(out)
        # And the staff command works.
        out = await officer.send("/viec")
        assert "Không có tin nào đang chờ xử lý" in joined(out)


async def test_invitation_for_someone_new_shows_the_notice_first(make_config, sqlite_url,
                                                                 clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        token = await invite(db, clock(), "village_head", f"{COMMUNE}-1")
        head = h.user(3002, "Lê Thị Hoa")
        out = await head.send(f"/start inv_{token}")
        assert "trưởng thôn / tổ trưởng tổ dân phố" in joined(out)
        out = await head.press("Nhận vai trò")
        # Not registered yet: the same notice and buttons as /start, nothing granted.
        assert "Thông báo về dữ liệu cá nhân</b> (phiên bản 2026-01)" in joined(out)
        assert last_buttons(head)[:2] == ["✅ Đồng ý", "Không đồng ý"]
        assert await person_of(db, "telegram", 3002) is None
        assert await count(db, Consent) == 0
        async with db.read() as s:
            assert (await s.execute(select(Invite.used_at))).scalar_one() is None

        await h.restart()  # the token waits in the conversation row, not in memory
        out = await head.press("Đồng ý")
        assert "Bạn đã là <b>trưởng thôn / tổ trưởng tổ dân phố</b> tại <b>Tổ dân phố 1</b>" \
            in joined(out)
        person = await person_of(db, "telegram", 3002)
        assert person is not None and person.consent
        assert person.home_area_id == (await village(db, 0)).id
        assert await roles_of(h, 3002) == [("village_head", person.home_area_id)]
        async with db.read() as s:
            consent = (await s.execute(select(Consent))).scalar_one()
            used_by = (await s.execute(select(Invite.used_by))).scalar_one()
        assert (consent.person_id, consent.notice_version, consent.granted) == (
            person.id, "2026-01", True)
        assert used_by == person.id


async def test_refusing_the_notice_leaves_the_invitation_unused(make_config, sqlite_url,
                                                                clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        token = await invite(db, clock())
        u = h.user(3012, "Mới")
        await u.send(f"/start inv_{token}")
        await u.press("Nhận vai trò")
        out = await u.press("English")  # the notice's language switch works here too
        assert "Personal data notice" in joined(out)
        out = await u.press("I do not agree")
        assert "Bình Yên will store nothing personal about you." in joined(out)
        assert await person_of(db, "telegram", 3012) is None
        assert await count(db, Consent) == 0
        assert await count(db, Conversation) == 0  # nothing kept about the chat
        async with db.read() as s:
            assert (await s.execute(select(Invite.used_at))).scalar_one() is None
        # The invitation can still be taken up, after agreeing this time.
        await u.send(f"/start inv_{token}")
        await u.press("Nhận vai trò")
        out = await u.press("Đồng ý")
        assert "Bạn đã là" in joined(out)
        assert len(await roles_of(h, 3012)) == 1


async def test_invitation_lapsing_while_the_notice_is_read(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        token = await invite(db, clock(), valid_for=timedelta(minutes=30))
        u = h.user(3013)
        await u.send(f"/start inv_{token}")
        await u.press("Nhận vai trò")
        clock.advance(minutes=31)
        out = await u.press("Đồng ý")
        text = joined(out)
        assert "Mã mời đã hết hạn. Hãy xin một mã mới." in text
        # They did agree, so they are registered and onboarding goes on.
        assert "ngôn ngữ" in text
        person = await person_of(db, "telegram", 3013)
        assert person is not None and person.consent
        assert await roles_of(h, 3013) == []


async def test_expired_invitation(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        token = await invite(db, clock(), valid_for=timedelta(hours=1))
        u = h.user(3003)
        clock.advance(hours=2)
        out = await u.send(f"/start inv_{token}")
        assert "Mã mời đã hết hạn. Hãy xin một mã mới." in joined(out)
        assert await roles_of(h, 3003) == []
        assert await person_of(db, "telegram", 3003) is None


async def test_invitation_expiring_between_offer_and_confirmation(make_config, sqlite_url,
                                                                  clock):
    async with harness(make_config, sqlite_url, clock) as h:
        token = await invite(h.rt.deps.db, clock(), valid_for=timedelta(minutes=30))
        u = h.user(3004)
        await onboard(u)
        await u.send(f"/start inv_{token}")
        clock.advance(minutes=31)
        out = await u.press("Nhận vai trò")
        assert "hết hạn" in joined(out)
        assert await roles_of(h, 3004) == []


async def test_reused_and_unknown_invitations(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        token = await invite(h.rt.deps.db, clock())
        first, second = h.user(3005, "Một"), h.user(3006, "Hai")
        await first.send(f"/start inv_{token}")
        await first.press("Nhận vai trò")
        await first.press("Đồng ý")
        assert len(await roles_of(h, 3005)) == 1

        out = await second.send(f"/start inv_{token}")
        assert "Mã mời không hợp lệ hoặc đã được dùng." in joined(out)
        # Even the first person cannot redeem it twice.
        out = await first.send(f"/start inv_{token}")
        assert "không hợp lệ hoặc đã được dùng" in joined(out)
        assert len(await roles_of(h, 3005)) == 1

        out = await second.send("/start inv_notarealtoken")
        assert "không hợp lệ" in joined(out)
        assert await roles_of(h, 3006) == []


async def test_two_people_confirming_one_invitation(make_config, sqlite_url, clock):
    """Both saw the offer; only the first confirmation wins."""
    async with harness(make_config, sqlite_url, clock) as h:
        token = await invite(h.rt.deps.db, clock())
        a, b = h.user(3007, "A"), h.user(3008, "B")
        await a.send(f"/start inv_{token}")
        await b.send(f"/start inv_{token}")
        await a.press("Nhận vai trò")
        await a.press("Đồng ý")
        out = await b.press("Nhận vai trò")
        # Checked before the notice: B is not asked to consent for a used invitation.
        assert "không hợp lệ hoặc đã được dùng" in joined(out)
        assert "Thông báo về dữ liệu cá nhân" not in joined(out)
        assert len(await roles_of(h, 3007)) == 1
        assert await roles_of(h, 3008) == []
        assert await person_of(h.rt.deps.db, "telegram", 3008) is None


async def test_declining_an_invitation(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        token = await invite(h.rt.deps.db, clock())
        u = h.user(3009)
        await onboard(u)
        await u.send(f"/start inv_{token}")
        out = await u.press("Từ chối")
        assert "Bạn đã từ chối lời mời." in joined(out)
        assert await roles_of(h, 3009) == []
        # The invitation is still unused: declining does not burn it.
        out = await u.send(f"/start inv_{token}")
        assert "Bạn được mời làm" in joined(out)


async def test_staff_commands_are_refused_to_residents(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        stranger = h.user(3010)
        out = await stranger.send("/viec")
        assert "chỉ dành cho cán bộ được mời" in joined(out)
        resident = h.user(3011)
        await onboard(resident)
        for command in ("/viec", "/tasks", f"/viec@{BOT_USERNAME}"):
            out = await resident.send(command)
            assert "chỉ dành cho cán bộ được mời" in joined(out)
        out = await resident.send("/trogiup")
        assert "/viec" not in joined(out)  # staff help is for staff


# --------------------------------------------------------------------------- groups

async def test_group_added_linked_and_baotin_goes_private(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        officer = h.user(3020, "An")
        await onboard(officer)
        await make_staff(h, officer)

        uid = await h.tg.bot_added_to_group(GROUP, "Tổ dân phố 1 — Hải Châu", by_user_id=3020)
        await h.handled(uid)
        intro = joined(h.tg.sent_to(GROUP))
        assert "Xin chào cả nhóm" in intro and "/lienket" in intro
        async with db.read() as s:
            group = (await s.execute(select(GroupChat))).scalar_one()
        assert (group.chat_id, group.title, group.active, group.area_id) == (
            str(GROUP), "Tổ dân phố 1 — Hải Châu", True, None)

        # A resident cannot link the group.
        resident = h.user(3021, "Mai", chat_id=GROUP)
        out = await resident.send("/lienket")
        assert "chỉ dành cho cán bộ được mời" in joined(out)

        # The officer links it to one of their areas, chosen by buttons.
        in_group = h.user(3020, "An", chat_id=GROUP)
        in_group.seen = len(h.tg.sent_to(GROUP))
        out = await in_group.send(f"/lienket@{BOT_USERNAME}")
        assert "Gắn nhóm này với địa bàn nào?" in joined(out)
        assert {"Phường Hải Châu", "Tổ dân phố 1", "Tổ dân phố 2"} <= set(last_buttons(in_group))
        out = await in_group.press("Tổ dân phố 1")
        assert "Nhóm đã được liên kết với <b>Tổ dân phố 1</b>" in joined(out)
        area = await village(db, 0)
        async with db.read() as s:
            group = (await s.execute(select(GroupChat))).scalar_one()
        assert group.area_id == area.id and group.linked_by is not None

        # /baotin in the group: only a private deep link, no report taken there.
        resident.seen = len(h.tg.sent_to(GROUP))
        out = await resident.send("/baotin")
        assert len(out) == 1
        assert "cuộc trò chuyện riêng" in out[0].text
        (button,), = out[0].reply_markup["inline_keyboard"]
        assert button["url"] == f"https://t.me/{BOT_USERNAME}?start=tip-{area.code}"
        assert "callback_data" not in button
        out = await resident.send("Có người lạ cạy khóa xe ở hẻm 12")
        assert out == []  # ordinary group chatter is not taken as a report
        assert await count(db, Case) == 0
        async with db.read() as s:
            convs = (await s.execute(select(Conversation).where(
                Conversation.chat_id == str(GROUP)))).scalars().all()
        assert all(c.flow != "tip" for c in convs)
        # The same with the bot's name after the command.
        out = await resident.send(f"/baotin@{BOT_USERNAME}")
        assert out[0].reply_markup["inline_keyboard"][0][0]["url"].endswith(f"tip-{area.code}")


async def test_deep_link_from_a_group_presets_the_area(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        area = await village(h.rt.deps.db, 1)
        resident = h.user(3030, "Mai")
        await onboard(resident, village_label="Tổ dân phố 1")
        out = await resident.send(f"/start tip-{area.code}")
        assert "Bạn muốn báo về việc gì?" in joined(out)
        await resident.press("Người, xe, hoạt động khả nghi")
        await resident.send("Hai người lạ đi xe không biển số")
        # The place offered is the group's area, not the resident's home.
        keys = last_buttons(resident)
        assert "📍 Tổ dân phố 2" in keys and "📍 Tổ dân phố 1" not in keys
        out = await resident.press("📍 Tổ dân phố 2")
        assert "Địa điểm cụ thể" in joined(out)


async def test_deep_link_for_someone_new_onboards_then_reports(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        area = await village(h.rt.deps.db, 1)
        u = h.user(3031, "Mới")
        out = await u.send(f"/start tip-{area.code}")
        assert "dữ liệu cá nhân" in joined(out)
        await onboard_from_consent(u)
        assert "Bạn muốn báo về việc gì?" in u.texts()[-1]
        await u.press("Người, xe, hoạt động khả nghi")
        await u.send("Xe lạ đỗ cả đêm trước cổng")
        assert "📍 Tổ dân phố 2" in last_buttons(u)


async def onboard_from_consent(u) -> None:
    await u.press("Đồng ý")
    await u.press("Tiếng Việt")
    await u.send("da nang")
    await u.press("Đà Nẵng")
    await u.send("hai chau")
    await u.press("Hải Châu")
    await u.press("Tổ dân phố 1")
    await u.press("Bỏ qua")


async def test_unlinked_group_baotin_still_goes_private(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        uid = await h.tg.bot_added_to_group(GROUP, "Nhóm chưa gắn", by_user_id=3040)
        await h.handled(uid)
        u = h.user(3041, chat_id=GROUP)
        u.seen = len(h.tg.sent_to(GROUP))
        out = await u.send("/baotin")
        assert out[0].reply_markup["inline_keyboard"][0][0]["url"] == \
            f"https://t.me/{BOT_USERNAME}?start=tip"
        # Private-only commands in a group get a short pointer, not a dialog.
        out = await u.send("/caidat")
        assert "chỉ dùng khi nhắn riêng" in joined(out)


async def test_lienket_in_private_and_bot_removed(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        officer = h.user(3050)
        await onboard(officer)
        await make_staff(h, officer)
        out = await officer.send("/lienket")
        assert "dùng trong nhóm chat" in joined(out)
        uid = await h.tg.bot_added_to_group(GROUP, "Nhóm", by_user_id=3050)
        await h.handled(uid)
        uid = await h.tg.bot_removed_from_group(GROUP, by_user_id=3050)
        await h.handled(uid)
        async with h.rt.deps.db.read() as s:
            group = (await s.execute(select(GroupChat))).scalar_one()
        assert group.active is False
