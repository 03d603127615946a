"""Every flow on Zalo at parity with Telegram: SOS, settings, cancelling, photos, officer
actions by number, personal-data rights; and a Telegram resident with a Zalo officer."""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import Case, Person
from tests.support.harness import TgUser
from tests.support.zalo_harness import (
    SESSION_SECRET,
    ZaloHarness,
    ZaloUser,
    make_officer,
    numbered_items,
    onboard_on_zalo,
    seed_places,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200))
GIF = b"GIF89a" + b"\x00" * 40


def text_of(sent: list) -> str:
    return "\n".join(s.text or "" for s in sent)


async def person(h: ZaloHarness, u: ZaloUser) -> Person:
    from storage.repos import people
    async with h.rt.deps.db.read() as s:
        p = await people.by_identity(s, "zalo", u.user_id)
    assert p is not None
    return p


async def test_sos_alerts_the_officer_and_shows_the_numbers_first(make_config, sqlite_url,
                                                                   clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        hung = h.user(501, "Hùng")
        await make_officer(h, hung)
        lan = h.zuser("zl-1")
        await onboard_on_zalo(lan)
        out = await lan.choose("Khẩn cấp")
        assert "113" in out[0].text and "0. Hủy" in out[-1].text
        assert "Zalo chưa gửi được vị trí" in out[-1].text  # no location sharing on Zalo
        out = await lan.send("Cướp giật ở chợ Hàn, đối tượng chạy về phía cầu Rồng")
        assert "Đã báo động tới 1 cán bộ" in text_of(out)
        await h.deliver()
        alert = hung.inbox()[-1]
        assert "SOS" in alert.text and "cầu Rồng" in alert.text
        await hung.press("Tiếp nhận")
        await h.deliver()
        assert "đã tiếp nhận" in lan.inbox()[-1].text


async def test_settings_language_and_a_typed_phone(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        lan = h.zuser("zl-2")
        await onboard_on_zalo(lan)
        out = await lan.choose("Cài đặt")
        assert "0. Xong" in out[-1].text
        await lan.choose("Ngôn ngữ")
        out = await lan.send("english")  # the label, typed
        assert "Settings" in text_of(out) and "Language: English" in text_of(out)
        out = await lan.choose("Phone")
        assert "type your phone number" in out[-1].text
        out = await lan.send("0987 654 321")
        assert "+84987654321" in out[-1].text
        out = await lan.send("0")  # Done
        assert "What would you like to do?" in out[-1].text
        p = await person(h, lan)
        assert (p.language, p.phone) == ("en", "+84987654321")


async def test_zero_or_huy_cancels_and_an_old_number_is_refused(make_config, sqlite_url,
                                                                clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        lan = h.zuser("zl-3")
        await onboard_on_zalo(lan)
        await lan.choose("Báo tin")
        await lan.send("2")  # a category: now the bot asks for words
        out = await lan.send("3")  # a number from the category list, no longer on offer
        assert "không còn hiệu lực" in text_of(out)
        out = await lan.send("huy")
        assert "Đã dừng" in text_of(out) and (1, "📝 Báo tin") in lan.menu()
        out = await lan.send("0")  # nothing left to cancel
        assert "Không có việc gì đang làm" in text_of(out)
        out = await lan.send("nhung con meo")  # not a choice: a friendly menu
        assert "chưa hiểu" in text_of(out)


async def test_photos_are_fetched_checked_and_reach_the_officer(make_config, sqlite_url, clock):
    overrides = {"limits": {"photo_max_bytes": 4096}}
    async with ZaloHarness(make_config, sqlite_url, clock, overrides=overrides) as h:
        await seed_places(h)
        hung = h.user(501, "Hùng")
        await make_officer(h, hung)
        lan = h.zuser("zl-4")
        await onboard_on_zalo(lan)
        for answer in ("1", "1", "Có người ném đá vào nhà số 7", "1", "0", "1"):
            await lan.send(answer)
        out = await lan.photo(b"\xff\xd8\xff" + b"\x00" * 5000)
        assert "Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB." in text_of(out)
        out = await lan.photo(GIF)
        assert "Chỉ nhận ảnh JPEG" in text_of(out)
        out = await lan.photo(JPEG, caption="cửa sổ bị vỡ")
        assert "(1/5)" in out[-1].text
        await lan.send("0")  # photos done
        await lan.choose("Ẩn danh")
        await lan.choose("Gửi tin")
        await h.deliver()
        photos = [s for s in h.tg.sent_to(hung.chat) if s.method == "sendPhoto"]
        assert [p.photo for p in photos] == [JPEG]


async def telegram_resident_tip(r: TgUser) -> None:
    await r.send("/start")
    for label in ("Đồng ý", "Tiếng Việt"):
        await r.press(label)
    await r.send("da nang")
    await r.press("Đà Nẵng")
    await r.send("hai chau")
    for label in ("Hải Châu", "Tổ dân phố 1", "Bỏ qua"):
        await r.press(label)
    await r.send("/baotin")
    await r.press("Tố giác")
    await r.send("Trộm chó ban đêm ở hẻm 12")
    for label in ("Tổ dân phố 1", "Bỏ qua", "Đang xảy ra"):
        await r.press(label)
    await r.photo(JPEG)
    for label in ("Xong phần ảnh", "Ẩn danh", "Gửi tin"):
        await r.press(label)


async def test_a_zalo_officer_works_a_telegram_tip_by_numbers(make_config, db_url, clock):
    async with ZaloHarness(make_config, db_url, clock) as h:
        await seed_places(h)
        hung = h.zuser("zo-1", "Cán bộ Hùng")
        await make_officer(h, hung)
        an = h.user(2001, "An")
        await telegram_resident_tip(an)
        await h.deliver()
        news, photo = hung.inbox()
        assert "Tin mới" in news.text and "Trộm chó" in news.text
        assert [n for n, _ in numbered_items(news.text)] == [1, 2, 3, 4]
        # The photo goes out as a signed, expiring link to this app; Zalo fetched it.
        assert photo.method == "sendPhoto" and photo.photo == JPEG
        assert photo.photo_url.startswith(h.config.web.public_url + "/files/")
        assert "exp=" in photo.photo_url and "sig=" in photo.photo_url
        async with h.zalo.http.get(photo.photo_url.replace("sig=", "sig=0")) as resp:
            assert resp.status == 403
        assert SESSION_SECRET not in photo.photo_url

        out = await hung.send("1")  # ✅ Tiếp nhận (from a notification, not a dialog)
        assert "Đã tiếp nhận tin BY-26-000001" in text_of(out)
        await hung.send("2")  # ❓ Hỏi thêm — the notification's menu is still the latest
        await hung.send("Chó màu gì?")
        await h.deliver()
        assert "Chó màu gì?" in an.inbox()[-1].text
        await an.press("Trả lời")
        await an.send("Chó vàng")
        await h.deliver()
        assert "Chó vàng" in hung.inbox()[-1].text

        out = await hung.send("/viec")
        assert numbered_items(out[-1].text)[0][1].startswith("BY-26-000001")
        await hung.send("1")
        out = await hung.choose("Kết thúc")
        assert "0. Hủy" in out[-1].text
        await hung.choose("Đã giải quyết")
        out = await hung.send("Đã xác minh, bàn giao")
        assert "Đã kết thúc tin BY-26-000001" in text_of(out)
        await h.deliver()
        assert "đã được xử lý xong" in text_of(an.inbox())
        async with h.rt.deps.db.read() as s:
            case = (await s.execute(select(Case))).scalar_one()
        assert case.status == "closed" and case.channel == "telegram"


async def test_personal_data_rights_on_zalo(make_config, sqlite_url, clock):
    """/dulieu: a copy arrives as a signed link (Zalo takes no files); withdrawing consent
    stops notices (the unsubscribe)."""
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        lan = h.zuser("zl-5")
        await onboard_on_zalo(lan)
        out = await lan.send("/dulieu")
        assert "0. Hủy" in out[-1].text
        await lan.choose("Tải bản sao")
        await h.tick()
        await h.deliver()
        link = text_of(lan.inbox())
        assert "/files/" in link and "sig=" in link and "24 giờ" in link
        await lan.send("/dulieu")
        await lan.choose("Rút lại")
        out = await lan.send("1")
        assert "Đã rút lại đồng ý" in text_of(out)
        p = await person(h, lan)
        assert p.broadcasts_opt_out and not p.consent


async def test_erasure_forgets_the_remembered_menu_too(make_config, sqlite_url, clock):
    from storage.tables import Conversation, Identity

    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        lan = h.zuser("zl-6")
        await onboard_on_zalo(lan)
        await lan.send("/dulieu")
        await lan.choose("Xóa dữ liệu")
        out = await lan.choose("Xóa")
        assert "DL-26-" in text_of(out)
        async with h.rt.deps.db.read() as s:
            left = (await s.execute(select(Conversation.user_id).where(
                Conversation.chat_id == "zl-6"))).scalars().all()
            ident = (await s.execute(select(Identity).where(
                Identity.user_id == "zl-6"))).scalar_one_or_none()
        assert left == [] and ident is None
