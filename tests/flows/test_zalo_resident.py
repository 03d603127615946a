"""A resident on Zalo, an officer on Telegram: the whole story in numbered-text dialogs.

Lan has never used Bình Yên. She writes to its Zalo account, agrees, picks her street
group, types her phone number (Zalo cannot share contacts), reports an anonymous tip,
and answers the officer's question — choosing everything by typing numbers. Officer Hùng
works on Telegram with buttons; he never learns who Lan is on Zalo.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import Case, CaseMessage, Identity, Person
from tests.support.zalo_harness import ZaloHarness, make_officer, numbered_items, seed_places


def text_of(sent: list) -> str:
    return "\n".join(s.text or "" for s in sent)


async def test_zalo_resident_and_telegram_officer(make_config, db_url, clock):
    async with ZaloHarness(make_config, db_url, clock) as h:
        await seed_places(h)
        hung = h.user(501, "Hùng")  # Telegram
        await make_officer(h, hung)
        lan = h.zuser("zl-4242", "Lan Nguyễn")  # Zalo

        # --- onboarding: every answer is a typed number (or a name) ---------------------
        out = await lan.send("Xin chào")
        assert "dữ liệu cá nhân" in text_of(out)
        assert (1, "✅ Đồng ý") in numbered_items(out[-1].text)
        await lan.send("1")  # agree
        out = await lan.send("1")  # Tiếng Việt
        assert "tỉnh/thành phố" in text_of(out)
        out = await lan.send("da nang")
        assert (1, "Thành phố Đà Nẵng") in numbered_items(out[-1].text)
        await lan.send("1")
        out = await lan.send("hai chau")
        assert (1, "Phường Hải Châu") in numbered_items(out[-1].text)
        out = await lan.send("1")
        assert (1, "Tổ dân phố 1") in numbered_items(out[-1].text)
        out = await lan.send("1")
        assert "gõ số điện thoại" in text_of(out)  # no contact button on Zalo
        out = await lan.send("0905 123 456")
        assert "Xong" in text_of(out) and "Tổ dân phố 1" in text_of(out)
        assert (1, "📝 Báo tin") in numbered_items(out[-1].text)  # the main menu, numbered

        # --- an anonymous tip -------------------------------------------------------------
        out = await lan.send("1")  # 📝 Báo tin
        categories = dict(numbered_items(out[-1].text))
        assert categories[1] == "Tố giác tội phạm"
        await lan.send("1")
        await lan.send("Có người lạ bẻ khóa xe máy trước nhà số 5 lúc 21 giờ")
        await lan.send("1")  # 📍 Tổ dân phố 1
        await lan.send("Trước cổng chợ Hàn")
        await lan.send("1")  # happening now
        await lan.send("0")  # no photos
        out = await lan.send("an danh")  # a label typed without accents works too
        assert "Kiểm tra lại" in text_of(out) and "Ẩn danh" in text_of(out)
        out = await lan.send("1")  # ✅ Gửi tin
        assert "Mã tin: BY-26-000001" in text_of(out)

        # --- the officer, on Telegram, acknowledges and asks ------------------------------
        await h.deliver()
        news = hung.inbox()
        assert "Tin mới" in text_of(news) and "Có người lạ bẻ khóa xe máy" in text_of(news)
        assert "ẩn danh" in text_of(news)
        await hung.press("Tiếp nhận")
        await hung.press("Hỏi thêm")
        await hung.send("Xe máy màu gì, biển số bao nhiêu?")
        await h.deliver()
        out = lan.inbox()
        assert "đã đến cán bộ" in text_of(out) and "đã tiếp nhận" in text_of(out)
        assert "Xe máy màu gì" in out[-1].text and (1, "✍️ Trả lời") in numbered_items(
            out[-1].text)

        # --- Lan answers by number, then in words -----------------------------------------
        out = await lan.send("1")
        assert "Nhập nội dung gửi cán bộ" in text_of(out)
        out = await lan.send("Xe Wave màu đỏ, biển 43A-123.45")
        assert "Đã gửi tới cán bộ" in text_of(out)
        await h.deliver()
        assert "Xe Wave màu đỏ" in hung.inbox()[-1].text

        # --- the officer closes; Lan rates by number --------------------------------------
        await hung.press("Kết thúc")
        await hung.press("Đã giải quyết")
        await hung.send("Đã mời chủ xe lên làm việc, thu hồi xe")
        await h.deliver()
        out = lan.inbox()
        assert "đã được xử lý xong" in text_of(out)
        assert (5, "⭐⭐⭐⭐⭐") in numbered_items(out[-1].text)
        out = await lan.send("5")
        assert "Cảm ơn" in text_of(out)

        # --- what the officer saw never names Lan's Zalo account -------------------------
        officer_view = "\n".join(hung.texts())
        assert "zl-4242" not in officer_view and "Lan" not in officer_view
        async with h.rt.deps.db.read() as s:
            case = (await s.execute(select(Case))).scalar_one()
            person = (await s.execute(select(Person).join(Identity).where(
                Identity.channel == "zalo"))).scalar_one()
            thread = (await s.execute(select(CaseMessage.author)
                                      .where(CaseMessage.case_id == case.id))).scalars().all()
        assert case.status == "closed" and case.anonymous and case.channel == "zalo"
        assert case.rating == 5
        assert person.phone == "+84905123456" and person.consent
        assert thread.count("reporter") == 2 and "staff" in thread
