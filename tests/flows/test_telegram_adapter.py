"""The Telegram adapter end to end: webhook authentication, idempotent intake, the API and
file URLs, keyboards, stale buttons, escaping, long texts, photos, pacing, command menus."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sqlalchemy import select

import bot.channels.telegram as tg_module
from storage.tables import Attachment, Conversation, ProcessedUpdate
from tests.fakes.telegram_api import SECRET_HEADER, FakeTelegram, parse_html
from tests.flows.dialogs import (
    JPEG,
    NASTY,
    NASTY_ESCAPED,
    PDF,
    count,
    guard_network,
    harness,
    joined,
    last_buttons,
    make_staff,
    markups,
    onboard,
    png,
    raw_update,
)
from tests.support.harness import SECRET, TOKEN

USER = 4001


def shown(h, sent) -> str:
    """What the user sees: the text after Telegram parsed the HTML."""
    return h.tg.message(sent.chat_id, sent.message_id)["text"]


async def to_tip_step(u, step: str) -> None:
    """From a fresh onboarded resident to the given step of /baotin."""
    await u.send("/baotin")
    await u.press("Người, xe, hoạt động khả nghi")
    if step == "describe":
        return
    await u.send("Hai người lạ thử cửa từng nhà")
    if step == "where":
        return
    await u.press("📍 Tổ dân phố 1")
    await u.press("Bỏ qua")
    await u.press("Đang xảy ra")
    assert step == "photos"


# --------------------------------------------------------------------------- webhook

async def test_webhook_secret_is_required_and_checked_in_constant_time(
        make_config, sqlite_url, clock, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []

    class SpyHmac:
        @staticmethod
        def compare_digest(a: bytes, b: bytes) -> bool:
            compared.append((a, b))
            import hmac
            return hmac.compare_digest(a, b)

    monkeypatch.setattr(tg_module, "hmac", SpyHmac)
    async with harness(make_config, sqlite_url, clock) as h:
        db = h.rt.deps.db
        assert h.tg.webhook_secret == SECRET  # setWebhook carried the secret
        assert await h.tg.post_raw_update(raw_update(1), secret=None) == 401
        assert await h.tg.post_raw_update(raw_update(1), secret="wrong-secret") == 401
        assert await h.tg.post_raw_update(raw_update(1), secret=SECRET + "x") == 401
        assert await h.tg.post_raw_update(raw_update(1), secret="") == 401
        assert h.tg.sent_to(USER) == []
        assert await count(db, ProcessedUpdate) == 0  # nothing was recorded as handled
        assert len(compared) == 4
        assert all(b == SECRET.encode() for _, b in compared)

        # The secret is checked before the body is read: garbage with a bad secret is 401.
        url = h.tg.webhook_url
        async with aiohttp.ClientSession() as s:
            async with s.post(url, data=b"{not json", headers={SECRET_HEADER: "nope"}) as r:
                assert r.status == 401
            async with s.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as r:
                assert r.status == 400

        # The same update with the right secret is processed normally.
        assert await h.tg.post_raw_update(raw_update(1)) == 200
        assert "dữ liệu cá nhân" in joined(h.tg.sent_to(USER))


async def test_each_update_is_processed_once(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        assert await h.tg.post_raw_update(raw_update(77, "/trogiup")) == 200
        first = len(h.tg.sent_to(USER))
        assert first == 1
        # Telegram retries a delivery (e.g. our answer was lost): same update id, no reply.
        assert await h.tg.post_raw_update(raw_update(77, "/trogiup")) == 200
        assert len(h.tg.sent_to(USER)) == first
        assert await h.tg.post_raw_update(raw_update(78, "/trogiup")) == 200
        assert len(h.tg.sent_to(USER)) == first + 1


async def test_concurrent_duplicate_deliveries_reply_once(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        statuses = await asyncio.gather(*(h.tg.post_raw_update(raw_update(90, "/trogiup"))
                                          for _ in range(5)))
        assert statuses == [200] * 5
        assert len(h.tg.sent_to(USER)) == 1


async def test_polling_mode_dialog_and_no_webhook(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock, mode="polling") as h:
        assert h.tg.webhook_url is None
        u = h.user(4002, "Poll")
        await onboard(u)
        assert "Xong" in joined(h.tg.sent_to(4002))
        assert h.tg.calls["getUpdates"] >= 1


# --------------------------------------------------------------------------- API and files

async def test_every_call_and_file_download_goes_to_the_configured_urls(
        make_config, sqlite_url, clock, monkeypatch):
    attempts = guard_network(monkeypatch)
    downloads: list[str] = []
    real_handle_file = FakeTelegram._handle_file

    async def counting(self, request):  # type: ignore[no-untyped-def]
        downloads.append(request.path)
        return await real_handle_file(self, request)

    monkeypatch.setattr(FakeTelegram, "_handle_file", counting)
    async with harness(make_config, sqlite_url, clock) as h:
        assert h.config.telegram.api_url == h.tg.base_url
        assert h.config.telegram.file_url == h.tg.base_file_url
        u = h.user(4003, "Ảnh")
        await onboard(u)
        await to_tip_step(u, "photos")
        image = png(4, 3)
        out = await u.photo(image)
        assert "(1/5)" in joined(out)
        assert len(downloads) == 1
        assert downloads[0].startswith(f"/file/bot{TOKEN}/photos/")
        for method in ("getMe", "setMyCommands", "setWebhook", "sendMessage",
                       "answerCallbackQuery", "getFile"):
            assert h.tg.calls[method] >= 1, method
        # The downloaded bytes are exactly the photo the user sent.
        import hashlib
        digest = hashlib.sha256(image).hexdigest()
        assert h.rt.deps.files.get(digest) == image
    assert attempts == []


async def test_photos_are_checked_for_type_and_size(make_config, sqlite_url, clock,
                                                    monkeypatch):
    downloads: list[str] = []
    real_handle_file = FakeTelegram._handle_file

    async def counting(self, request):  # type: ignore[no-untyped-def]
        downloads.append(request.path)
        return await real_handle_file(self, request)

    monkeypatch.setattr(FakeTelegram, "_handle_file", counting)
    limit = 4096
    async with harness(make_config, sqlite_url, clock, limits={"photo_max_bytes": limit}) as h:
        db = h.rt.deps.db
        u = h.user(4004, "Ảnh")
        await onboard(u)
        await to_tip_step(u, "photos")

        out = await u.photo(png())
        assert "(1/5)" in joined(out)
        out = await u.photo(JPEG)
        assert "(2/5)" in joined(out)

        # Not an image, though labelled as one: the bytes decide.
        out = await u.photo(b"GIF89a not really a photo", mime="image/jpeg")
        assert "Chỉ nhận ảnh JPEG, PNG hoặc WebP." in joined(out)
        # A document that is not an image.
        uid = await h.tg.user_sends_document(4004, PDF, "bao-cao.pdf", "application/pdf")
        out = await u._after(uid)
        assert "Chỉ nhận ảnh JPEG, PNG hoặc WebP." in joined(out)
        # Too large: refused from the size Telegram announces, before downloading it.
        before = len(downloads)
        out = await u.photo(png() + b"\x00" * limit)
        assert "Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB." in joined(out)  # [limits], not 10 MB
        assert len(downloads) == before
        # An image sent as a file (uncompressed) is accepted like a photo.
        uid = await h.tg.user_sends_document(4004, png(3, 3), "anh.png", "image/png")
        out = await u._after(uid)
        assert "(3/5)" in joined(out)

        await u.press("Xong phần ảnh")
        await u.press("Ẩn danh")
        out = await u.press("Gửi tin")
        assert "Đã nhận tin" in joined(out)
        async with db.read() as s:
            atts = (await s.execute(select(Attachment).order_by(Attachment.id))).scalars().all()
        assert [(a.mime, a.size) for a in atts] == [
            ("image/png", len(png())), ("image/jpeg", len(JPEG)), ("image/png", len(png(3, 3)))]
        for a in atts:
            assert len(h.rt.deps.files.get(a.sha256)) == a.size


# --------------------------------------------------------------------------- keyboards

async def test_choices_are_inline_keyboards_with_short_callback_data(make_config, sqlite_url,
                                                                     clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4005)
        await onboard(u)
        await to_tip_step(u, "photos")
        await u.press("Bỏ qua")
        await u.press("Kèm tên")
        assert "Kiểm tra lại trước khi gửi" in u.last_text()
        inline = [m["inline_keyboard"] for m in markups(u) if "inline_keyboard" in m]
        assert len(inline) >= 8
        datas = [b["callback_data"] for rows in inline for row in rows for b in row
                 if "callback_data" in b]
        assert len(datas) >= 25
        assert all(1 <= len(d.encode()) <= 64 for d in datas)
        assert len(set(datas)) == len(datas)  # old buttons never collide with new ones
        # Every press was answered (the client's spinner stops).
        assert len(h.tg.callback_answers) == h.tg.calls["answerCallbackQuery"]
        assert h.tg.calls["answerCallbackQuery"] == sum(
            1 for _ in range(len(h.tg.callback_answers)))


async def test_stale_button_gets_a_polite_answer(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4006)
        await u.send("/start")
        consent = h.tg.sent_to(4006)[-1]
        yes = next(b["callback_data"] for row in consent.reply_markup["inline_keyboard"]
                   for b in row if "Đồng ý" in b["text"])
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        sent_before = len(h.tg.sent_to(4006))

        out = await u.press_payload(yes, message_id=consent.message_id)
        assert out == []  # no error message, no restart of the dialog
        answer = h.tg.callback_answers[-1]
        assert answer.text == "Nút này không còn hiệu lực."
        for payload in ("!nosuchaction:1", "zzz.yes", "x"):
            out = await u.press_payload(payload, message_id=consent.message_id)
            assert out == []
            assert h.tg.callback_answers[-1].text == "Nút này không còn hiệu lực."
        assert len(h.tg.sent_to(4006)) == sent_before
        # The dialog is still where it was.
        out = await u.send("da nang")
        assert "Thành phố Đà Nẵng" in last_buttons(u)


async def test_edited_messages_are_ignored(make_config, sqlite_url, clock):
    """Editing an old answer must not answer the question the dialog is at now."""
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4007)
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        await u.send("da nang")
        out = await u.press("Thành phố Đà Nẵng")
        assert "xã/phường nào" in joined(out)
        async with h.rt.deps.db.read() as s:
            before = (await s.execute(select(Conversation.step, Conversation.version))).one()
        old = next(m for m in h.tg.user_messages(4007) if m.get("text") == "da nang")

        for edit in ("hai chau", "/huy"):  # an answer to the commune question; a command
            uid = await h.tg.user_edits_text(4007, old["message_id"], edit)
            assert await u._after(uid) == []  # handled, and nothing sent
        async with h.rt.deps.db.read() as s:
            after = (await s.execute(select(Conversation.step, Conversation.version))).one()
        assert after == before  # the dialog did not move
        # A new message answers the current question as usual.
        await u.send("hai chau")
        assert "Phường Hải Châu" in last_buttons(u)


# --------------------------------------------------------------------------- text

async def test_user_text_is_escaped(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4007)
        await u.send("/start")
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        out = await u.send(NASTY)  # as a place name
        assert NASTY_ESCAPED in out[-1].text
        assert NASTY in shown(h, out[-1])  # the user sees exactly what they typed

        await u.send("da nang")
        await u.press("Đà Nẵng")
        await u.send("hai chau")
        await u.press("Hải Châu")
        await u.press("Tổ dân phố 1")
        await u.press("Bỏ qua")
        await u.send("/baotin")
        await u.press("Người, xe, hoạt động khả nghi")
        await u.send(f"Mô tả {NASTY}")
        await u.press("📍 Tổ dân phố 1")
        await u.send(f"Hẻm {NASTY}")
        await u.press("Thời điểm khác")
        await u.send(f"Tối qua {NASTY}")
        await u.press("Bỏ qua")
        out = await u.press("Ẩn danh")
        review = out[-1]
        assert review.text.count(NASTY_ESCAPED) == 3
        assert "<script>" not in review.text
        assert shown(h, review).count(NASTY) == 3


async def test_reporter_name_is_escaped_for_the_officer(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        officer = h.user(4010, "Cán bộ")
        await onboard(officer)
        await make_staff(h, officer)
        officer.inbox()
        reporter = h.user(4011, NASTY)
        await onboard(reporter)
        await to_tip_step(reporter, "photos")
        await reporter.press("Bỏ qua")
        await reporter.press("Kèm tên")
        out = await reporter.press("Gửi tin")
        assert "Đã nhận tin" in joined(out)
        assert await h.deliver() >= 1
        note = next(s for s in officer.inbox() if s.text and "Tin mới" in s.text)
        assert f"Người báo: {NASTY_ESCAPED}, ĐT +84912345678" in note.text
        assert f"Người báo: {NASTY}, ĐT +84912345678" in shown(h, note)


async def test_long_texts_are_split_at_4096(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4012)
        await onboard(u)
        await u.send("/baotin")
        await u.press("Người, xe, hoạt động khả nghi")
        words = ("Một người đàn ông mặc áo khoác đen đi xe máy không biển số " * 80)[:3990]
        await u.send(words.strip())
        await u.press("📍 Tổ dân phố 1")
        await u.press("Bỏ qua")
        await u.press("Đang xảy ra")
        await u.press("Bỏ qua")
        out = await u.press("Ẩn danh")
        assert len(out) == 2  # the review is longer than one Telegram message
        assert all(len(s.text) <= 4096 for s in out)
        assert out[0].reply_markup is None and "inline_keyboard" in out[1].reply_markup
        seen = " ".join(shown(h, s) for s in out)
        assert words.strip() in " ".join(seen.split())


async def test_long_escaped_text_is_split_without_breaking_entities(make_config, sqlite_url,
                                                                   clock):
    """3999 characters of "<" become 15996 of "&lt;": the cuts must fall between entities."""
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4013)
        await onboard(u)
        await u.send("/baotin")
        await u.press("Người, xe, hoạt động khả nghi")
        await u.send("a" + "<" * 3999)  # the "a" shifts the entities off the 4096 grid
        await u.press("📍 Tổ dân phố 1")
        await u.press("Bỏ qua")
        await u.press("Đang xảy ra")
        await u.press("Bỏ qua")
        out = await u.press("Ẩn danh")
        assert len(out) >= 4
        for s in out:
            assert len(s.text) <= 4096
            parse_html(s.text)  # each part is valid on its own
        visible = "".join(shown(h, s) for s in out)
        assert visible.count("<") == 3999
        assert "&l" not in visible and "t;" not in visible


# --------------------------------------------------------------------------- sending

async def test_sends_go_through_the_pacer(make_config, sqlite_url, clock):
    """Production limits (1 message/s per chat, short bursts): every send waits its turn."""
    async with harness(make_config, sqlite_url, clock,
                       limits={"per_chat_per_second": 1.0}) as h:
        pacer = h.rt.telegram.pacer
        waits: list[tuple[str, bool, bool]] = []
        real_wait = pacer.wait

        async def spy(chat_id: str, is_group: bool = False, *, background: bool = False) -> None:
            waits.append((chat_id, is_group, background))
            await real_wait(chat_id, is_group, background=background)

        pacer.wait = spy  # type: ignore[method-assign]
        u = h.user(4020)
        for _ in range(4):
            await u.send("/trogiup")
        sends = h.tg.sent_to(4020)
        assert len(sends) == 4
        assert waits == [("4020", False, False)] * 4  # replies: the interactive lane
        # A burst of three goes out at once; the fourth waits about a second.
        assert sends[2].at - sends[0].at < 0.5
        assert sends[3].at - sends[0].at >= 0.6


async def test_queued_notifications_use_the_same_pacer(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        officer = h.user(4021)
        await onboard(officer)
        await make_staff(h, officer)
        reporter = h.user(4022)
        await onboard(reporter)
        await to_tip_step(reporter, "photos")
        await reporter.press("Bỏ qua")
        await reporter.press("Ẩn danh")
        await reporter.press("Gửi tin")
        pacer = h.rt.telegram.pacer
        waits: list[tuple[str, bool]] = []
        real_wait = pacer.wait

        async def spy(chat_id: str, is_group: bool = False, *, background: bool = False) -> None:
            waits.append((chat_id, background))
            await real_wait(chat_id, is_group, background=background)

        pacer.wait = spy  # type: ignore[method-assign]
        assert await h.deliver() >= 1
        # A queued notice lets replies to people chatting now go first.
        assert ("4021", True) in waits


async def test_a_429_on_a_direct_reply_is_retried_after_retry_after(make_config, sqlite_url,
                                                                    clock):
    async with harness(make_config, sqlite_url, clock) as h:
        u = h.user(4023)
        h.tg.fail_next("sendMessage", 429, retry_after=1, chat_id=4023)
        started = time.monotonic()
        out = await u.send("/trogiup")
        assert h.tg.count_429 == 1
        assert len(out) == 1 and "/baotin" in out[0].text  # not lost
        assert time.monotonic() - started >= 0.9


async def test_command_menus_in_vietnamese_and_english(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        assert h.tg.calls["setMyCommands"] == 2

        async def menu(lang: str | None) -> dict[str, str]:
            params = {"language_code": lang} if lang else {}
            async with aiohttp.ClientSession() as s, \
                    s.post(f"{h.tg.api_url}/getMyCommands", json=params) as r:
                body = await r.json()
            return {c["command"]: c["description"] for c in body["result"]}

        vi, en = await menu(None), await menu("en")
        assert vi["start"] == "Bắt đầu"
        assert vi["baotin"] == "Báo tin an ninh trật tự"
        assert vi["trogiup"] == "Trợ giúp" and "caidat" in vi and "huy" in vi
        assert vi["sos"] == "Khẩn cấp"
        assert en["start"] == "Start"
        assert en["report"] == "Report"
        assert en["help"] == "Help" and "settings" in en and "cancel" in en
        assert en["sos"] == "Emergency"
        # Every command in a menu really works under that name.
        routes = h.rt.engine.routes
        assert set(vi) | set(en) <= set(routes.by_command)


@pytest.mark.parametrize("lang,expected", [("en", "Personal data notice"),
                                           ("vi", "Thông báo về dữ liệu cá nhân")])
async def test_client_language_picks_the_first_language(make_config, sqlite_url, clock, lang,
                                                        expected):
    async with harness(make_config, sqlite_url, clock) as h:
        body = raw_update(5, "/start")
        body["message"]["from"]["language_code"] = lang
        assert await h.tg.post_raw_update(body) == 200
        assert expected in joined(h.tg.sent_to(USER))
