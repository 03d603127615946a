"""/start onboarding, /caidat, /trogiup and /huy over the fake Telegram server.

The main dialog runs on SQLite and PostgreSQL (``db_url``); the rest on SQLite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.tables import Consent, Conversation, Identity, Person
from tests.flows.dialogs import (
    BOT_USERNAME,
    VILLAGES,
    area_by_code,
    count,
    harness,
    joined,
    last_buttons,
    onboard,
    person_of,
    village,
)

EMERGENCY = ("113", "114", "115")


async def test_whole_onboarding_stores_consent_area_and_phone(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2001, "Lan", "lan")

        out = await u.send("/start")
        notice = out[-1]
        labels = [b["text"] for row in notice.reply_markup["inline_keyboard"] for b in row]
        assert any("Đồng ý" in b for b in labels) and "Không đồng ý" in labels
        assert "dữ liệu cá nhân" in notice.text
        # Nothing personal is stored before the person agrees.
        assert await person_of(db, "telegram", 2001) is None

        out = await u.press("Đồng ý")
        assert "ngôn ngữ" in joined(out)
        assert last_buttons(u) == ["Tiếng Việt", "English"]
        person = await person_of(db, "telegram", 2001)
        assert person is not None and person.consent

        # A typed button label, without accents, works like pressing it.
        out = await u.send("tieng viet")
        assert "tỉnh/thành phố" in joined(out)

        out = await u.send("da nang")
        assert "Thành phố Đà Nẵng" in last_buttons(u)
        out = await u.press("Đà Nẵng")
        assert "xã/phường" in joined(out)

        out = await u.send("hai chau")  # accent-insensitive commune search
        assert "Phường Hải Châu" in last_buttons(u)
        out = await u.press("Phường Hải Châu")
        assert "thôn / tổ dân phố" in joined(out)
        assert [b for b in last_buttons(u) if "Tổ dân phố" in b] == [f"Tổ dân phố {n}" for n in
                                                                      ("1", "2")]

        out = await u.press(VILLAGES[1])
        ask = out[-1]
        keys = ask.reply_markup["keyboard"]
        assert keys[0][0]["request_contact"] is True  # the contact-sharing key
        assert "Bỏ qua" in [k["text"] for row in keys for k in row]

        out = await u.contact("84905123456")  # Telegram sends shared numbers without "+"
        text = joined(out)
        assert "Xong" in text and "Tổ dân phố 2" in text and "Phường Hải Châu" in text
        assert out[0].reply_markup == {"remove_keyboard": True}
        assert "Bạn cần gì?" in text  # the main menu

        person = await person_of(db, "telegram", 2001)
        assert person is not None
        assert person.phone == "+84905123456"
        assert person.language == "vi"
        assert person.home_area_id == (await village(db, 1)).id
        assert person.display_name == "Lan"
        assert await count(db, Consent, Consent.person_id == person.id,
                           Consent.granted.is_(True)) == 1
        # The flow is over: no state left behind.
        async with db.read() as s:
            conv = (await s.execute(select(Conversation).where(
                Conversation.user_id == "2001"))).scalar_one()
        assert conv.flow is None and conv.step is None

        # Coming back later: a welcome back with the area, not the notice again.
        out = await u.send("/start")
        assert "Chào mừng bạn trở lại" in joined(out)
        assert "Tổ dân phố 2" in joined(out)


async def test_refusing_consent_stores_nothing_and_shows_emergency_numbers(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2002, "Minh", "minh")
        await u.send("/start")
        out = await u.press("Không đồng ý")
        text = joined(out)
        assert "không lưu bất kỳ thông tin cá nhân" in text
        for number in EMERGENCY:
            assert f"tel:{number}" in text
        assert await person_of(db, "telegram", 2002) is None
        assert await count(db, Person) == 0
        assert await count(db, Identity) == 0
        assert await count(db, Consent) == 0
        # No name, username or phone kept in the conversation row either.
        async with db.read() as s:
            rows = (await s.execute(select(Conversation))).scalars().all()
        for row in rows:
            assert row.flow is None
            assert "Minh" not in str(row.data) and "minh" not in str(row.data)
        # Typing afterwards offers the notice again, still storing nothing.
        out = await u.send("xin chào")
        assert "dữ liệu cá nhân" in joined(out)
        assert await count(db, Person) == 0


async def test_switching_to_english_before_consent(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2003, "Tom")
        await u.send("/start")
        out = await u.press("English")
        assert "Personal data notice" in joined(out)
        await u.press("I agree")
        await u.press("English")
        out = await u.send("da nang")
        assert "Choose your place" in joined(out)
        person = await person_of(h.rt.deps.db, "telegram", 2003)
        assert person is not None and person.language == "en"


async def test_someone_elses_contact_is_refused(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2004, "Hoa")
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        await u.send("da nang")
        await u.press("Đà Nẵng")
        await u.send("hai chau")
        await u.press("Hải Châu")
        await u.press(VILLAGES[0])
        out = await u.contact("0912345678", own=False)
        assert "số của người khác" in joined(out)
        assert (await person_of(db, "telegram", 2004)).phone is None
        # Still at the phone step: the contact key is offered again.
        assert out[-1].reply_markup["keyboard"][0][0]["request_contact"] is True
        out = await u.send("0912 abc")
        assert "không hợp lệ" in joined(out)
        out = await u.send("0912 345 678")  # typed numbers work too
        assert "Xong" in joined(out)
        assert (await person_of(db, "telegram", 2004)).phone == "+84912345678"


async def test_foreign_own_contact_is_stored_in_e164(make_config, sqlite_url, clock):
    """Telegram shares verified numbers in international form, often without the "+"."""
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2005, "John")
        await onboard(u, phone="12025550123")
        assert "Xong" in u.texts()[-2]
        assert (await person_of(h.rt.deps.db, "telegram", 2005)).phone == "+12025550123"


async def test_skipping_the_village_and_the_phone(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2006, "Bảo")
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        await u.send("DA NANG")
        await u.press("Đà Nẵng")
        await u.send("Hải  Châu")
        await u.press("Hải Châu")
        out = await u.press("Không rõ")
        assert "số điện thoại" in joined(out)
        out = await u.press("Bỏ qua")  # a reply-keyboard key: arrives as typed text
        assert "Xong" in joined(out)
        person = await person_of(db, "telegram", 2006)
        assert person.home_area_id == (await area_by_code(db, "20242")).id
        assert person.phone is None


async def test_unknown_place_is_said_and_asked_again(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2007)
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        out = await u.send("Atlantis")
        assert "Không tìm thấy “Atlantis”" in joined(out)
        out = await u.send("da nang")
        assert "Thành phố Đà Nẵng" in last_buttons(u)
        await u.press("Đà Nẵng")
        out = await u.send("khong co phuong nay")
        assert "Không tìm thấy" in joined(out)
        out = await u.send("hai chau")
        assert "Phường Hải Châu" in last_buttons(u)


async def test_settings_change_language_area_and_phone(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2010, "Quân")
        await onboard(u)
        out = await u.send("/caidat")
        text = joined(out)
        assert "Cài đặt" in text and "Tiếng Việt" in text and "+84912345678" in text

        await u.press("Ngôn ngữ")
        out = await u.press("English")
        assert "Saved" in joined(out) and "Language: English" in joined(out)
        assert (await person_of(db, "telegram", 2010)).language == "en"
        # From now on everything is in English.
        out = await u.send("/trogiup")
        assert "commands" in joined(out) and "/report" in joined(out)
        out = await u.send("/settings")
        assert "Settings" in joined(out)

        await u.press("Area")
        out = await u.send("da nang")
        assert "Choose your place" in joined(out)
        await u.press("Đà Nẵng")
        await u.send("lien chieu")
        out = await u.press("Liên Chiểu")
        assert "Area: Phường Liên Chiểu" in joined(out)  # back at the settings screen
        assert (await person_of(db, "telegram", 2010)).home_area_id == (
            await area_by_code(db, "20197")).id

        await u.press("Phone number")
        out = await u.contact("+84987654321")
        assert "Phone: +84987654321" in joined(out)
        assert (await person_of(db, "telegram", 2010)).phone == "+84987654321"
        out = await u.press("Done")
        assert "What would you like to do?" in joined(out)


async def test_help_keeps_the_flow_and_cancel_leaves_it(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        u = h.user(2011)
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        out = await u.send("/trogiup")
        text = joined(out)
        assert "/baotin" in text and "/huy" in text and "tel:113" in text
        # Help kept the onboarding where it was: the province question still answers.
        out = await u.send("da nang")
        assert "Thành phố Đà Nẵng" in last_buttons(u)

        out = await u.send("/huy")
        assert "Đã dừng" in joined(out)
        async with db.read() as s:
            conv = (await s.execute(select(Conversation).where(
                Conversation.user_id == "2011"))).scalar_one()
        assert conv.flow is None and conv.step is None and "province_id" not in conv.data
        # The old province buttons are now stale; a typed answer is not taken as a province.
        await u.press("Đà Nẵng")
        assert h.tg.callback_answers[-1].text == "Nút này không còn hiệu lực."
        out = await u.send("/huy")
        assert "Không có việc gì đang làm" in joined(out)


@pytest.mark.parametrize("command", [
    "/trogiup", f"/trogiup@{BOT_USERNAME}", "/TROGIUP", "/help", f"/help@{BOT_USERNAME}",
])
async def test_commands_with_or_without_the_bot_name(make_config, sqlite_url, clock, command):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2012)
        out = await u.send(command)
        assert "/baotin" in joined(out) or "/report" in joined(out)


async def test_a_command_for_another_bot_is_not_ours(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2013)
        await onboard(u)
        out = await u.send("/trogiup@some_other_bot")
        assert "/baotin" not in joined(out)  # not answered as /trogiup


async def test_unknown_command_and_free_text_get_the_menu(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(2014)
        await onboard(u)
        out = await u.send("/khongcolenhnay")
        assert "không hiểu lệnh" in joined(out)
        out = await u.send("chào bot")
        assert "chưa hiểu" in joined(out)
        assert any("Báo tin" in b for b in last_buttons(u))
