"""The fake Bot API server, driven by python-telegram-bot over both request backends."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.transport import AiohttpRequest
from tests.fakes.telegram_api import SECRET_HEADER, FakeTelegram, parse_html

TOKEN = "123:ABC"
USER = 501
OTHER = 502
GROUP = -1001234567890


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture(params=["httpx", "aiohttp"])
def make_request(request: pytest.FixtureRequest) -> Callable[[], BaseRequest]:
    if request.param == "httpx":
        return HTTPXRequest
    return AiohttpRequest


@pytest.fixture
async def bot(tg: FakeTelegram, make_request: Callable[[], BaseRequest]) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=make_request(),
        get_updates_request=make_request(),
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns on every RetryAfter (even while constructing it) unless it is told to
    # report retry_after as a timedelta, which the next major version makes the default.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def _retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


_MARKUP = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}]]}


def _keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Chọn", callback_data=data)]])


# --------------------------------------------------------------------------- basics


async def test_get_me_reports_the_test_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "binhyen_test_bot"
    assert me.id == 123
    assert me.is_bot


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    requests = (AiohttpRequest(), AiohttpRequest())
    wrong = Bot(
        "999:WRONG", base_url=tg.base_url, request=requests[0], get_updates_request=requests[1]
    )
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        # A Bot whose initialize() failed skips its own shutdown, so close the pools here.
        for request in requests:
            await request.shutdown()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{tg.base_url}999:WRONG/getMe") as response,
    ):
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_send_message_is_recorded_with_per_chat_ids(tg: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(USER, "Chào bạn", reply_markup=_keyboard("menu:1"))
    second = await bot.send_message(USER, "Lần hai")
    other = await bot.send_message(OTHER, "Người khác")

    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.chat.id == USER and first.from_user is not None
    assert first.from_user.username == "binhyen_test_bot"
    assert first.reply_markup == _keyboard("menu:1")
    assert tg.texts(USER) == ["Chào bạn", "Lần hai"]
    record = tg.sent_to(USER)[0]
    assert record.method == "sendMessage"
    assert record.reply_markup == {
        "inline_keyboard": [[{"text": "Chọn", "callback_data": "menu:1"}]]
    }
    assert tg.last(OTHER).text == "Người khác"
    assert tg.last().chat_id == OTHER
    assert tg.calls["sendMessage"] == 3


async def test_reply_keyboard_is_recorded_but_not_echoed(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)]],
        one_time_keyboard=True,
    )
    message = await bot.send_message(USER, "Xác minh", reply_markup=keyboard)
    assert message.reply_markup is None
    markup = tg.last(USER).reply_markup
    assert markup is not None
    assert markup["keyboard"][0][0]["request_contact"] is True


async def test_user_message_ids_share_the_chat_counter(tg: FakeTelegram, bot: Bot) -> None:
    await tg.user_sends_text(USER, "xin chào")
    sent = await bot.send_message(USER, "Chào!", reply_to_message_id=1)
    assert sent.message_id == 2
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "xin chào"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "?", reply_to_message_id=99)


# --------------------------------------------------------------------------- limits


async def test_text_limit_is_4096_characters_after_entity_parsing(
    tg: FakeTelegram, bot: Bot
) -> None:
    await bot.send_message(USER, "ệ" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "ệ" * 4097)
    # Tags do not count and each entity counts as one character.
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "&amp;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "&lt;" * 4097, parse_mode="HTML")
    # Without parse_mode the markup is ordinary text and counts in full.
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>")
    assert len(tg.sent_to(USER)) == 3


async def test_malformed_html_and_empty_text_are_rejected(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<b>đậm", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<b><i>x</b></i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<marquee>x</marquee>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")


def test_parse_html_gives_utf16_entities() -> None:
    text, entities = parse_html('Số <b>😀 đậm</b> <a href="https://t.me/x">link</a> &quot;x&quot;')
    assert text == 'Số 😀 đậm link "x"'
    assert entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://t.me/x"},
    ]


async def test_caption_limit_is_1024(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_photo(USER, photo=b"\xff\xd8jpeg", caption="ả" * 1024)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(USER, photo=b"\xff\xd8jpeg", caption="ả" * 1025)
    assert tg.last(USER).text == "ả" * 1024


async def test_callback_data_is_limited_to_64_utf8_bytes(tg: FakeTelegram, bot: Bot) -> None:
    # "ệ" is 3 bytes and "đ" 2 bytes in UTF-8: 21 * 3 + 1 = 64, 21 * 3 + 2 = 65.
    fits = "ệ" * 21 + "a"
    too_long = "ệ" * 21 + "đ"
    assert len(fits.encode()) == 64 and len(too_long.encode()) == 65
    await bot.send_message(USER, "Chọn", reply_markup=_keyboard(fits))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "Chọn", reply_markup=_keyboard(too_long))
    assert len(too_long) == 22  # far under 64 characters: bytes are what count
    assert len(tg.sent) == 1


# --------------------------------------------------------------------------- flood control


async def test_per_chat_flood_limit_answers_429_with_retry_after(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.set_limits(global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20, enabled=True)
    await bot.send_message(USER, "một")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hai")
    assert _retry_seconds(caught.value) >= 1
    assert tg.count_429 == 1
    # Another chat is not affected by this chat's window.
    await bot.send_message(OTHER, "khác")
    await asyncio.sleep(_retry_seconds(caught.value))
    await bot.send_message(USER, "hai")
    assert tg.texts(USER) == ["một", "hai"]


async def test_global_and_group_flood_limits(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_limits(global_per_sec=5, per_chat_per_sec=100, per_group_per_min=100)
    for chat in range(1, 6):
        await bot.send_message(chat, "tin")
    with pytest.raises(RetryAfter):
        await bot.send_message(6, "tin")

    tg.set_limits(global_per_sec=100, per_chat_per_sec=100, per_group_per_min=3)
    for _ in range(3):
        await bot.send_message(GROUP, "nhóm")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "nhóm")
    # The per-group window is a minute long, so the wait is close to a minute.
    assert 55 <= _retry_seconds(caught.value) <= 60
    assert tg.count_429 == 2


async def test_paid_broadcast_raises_the_global_limit(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_limits(global_per_sec=2, per_chat_per_sec=10, paid_broadcast_per_sec=1000)
    for chat in range(1, 11):
        await bot.send_message(chat, "trả phí", allow_paid_broadcast=True)
    assert tg.count_429 == 0


# --------------------------------------------------------------------------- scripted failures


async def test_scripted_failures_and_blocked_chats(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    tg.fail_next("sendMessage", status=500, count=2, chat_id=OTHER)
    await bot.send_message(USER, "ok")  # other chats are unaffected
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(OTHER, "x")
    await bot.send_message(OTHER, "ok")
    tg.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "x")
    tg.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "x")
    assert _retry_seconds(caught.value) == 7

    tg.block(USER)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(USER, "x")
    with pytest.raises(Forbidden):
        await bot.send_photo(USER, photo=b"img")
    tg.unblock(USER)
    await bot.send_message(USER, "lại")
    assert tg.texts() == ["ok", "ok", "lại"]
    assert tg.calls["sendMessage"] == 9


# --------------------------------------------------------------------------- updates


async def test_get_updates_long_poll_returns_an_injected_update(tg: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    update_id = await tg.user_sends_text(USER, "Xin chào", first_name="Bình")
    updates = await asyncio.wait_for(poll, 2)
    assert loop.time() - started < 2
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.text == "Xin chào"
    assert message.from_user is not None and message.from_user.first_name == "Bình"
    # Updates stay until confirmed by a higher offset.
    assert len(await bot.get_updates(timeout=0)) == 1
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    # An empty long poll waits for the timeout.
    started = loop.time()
    assert await bot.get_updates(offset=update_id + 1, timeout=1) == ()
    assert loop.time() - started >= 0.9


async def test_a_second_poller_terminates_the_first(bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await asyncio.wait_for(first, 2)
    assert await second == ()


async def test_json_and_form_bodies_are_both_understood(tg: FakeTelegram) -> None:
    url = f"{tg.api_url}/sendMessage"
    too_long = {"inline_keyboard": [[{"text": "x", "callback_data": "ệ" * 22}]]}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            url, json={"chat_id": USER, "text": "json", "reply_markup": too_long}
        ) as response:
            assert response.status == 400
            assert (await response.json())["description"] == "Bad Request: BUTTON_DATA_INVALID"
        async with session.post(url, json={"chat_id": USER, "text": "json"}) as response:
            body = await response.json()
            assert body["ok"] and body["result"]["text"] == "json"
        form = {"chat_id": str(OTHER), "text": "form", "reply_markup": json.dumps(_MARKUP)}
        async with session.post(url, data=form) as response:
            assert response.status == 200
    assert tg.last(OTHER).reply_markup == _MARKUP
    assert tg.last(OTHER).params["chat_id"] == OTHER


async def test_update_builders_parse_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    ids = [
        await tg.user_sends_command(USER, "/start ref_123"),
        await tg.user_shares_contact(USER, "84901234567"),
        await tg.user_shares_location(USER, 10.7769, 106.7009),
        await tg.bot_added_to_group(GROUP, "Tổ dân phố 5", by_user_id=USER),
        await tg.user_sends_text(USER, "/help@binhyen_test_bot", chat_id=GROUP, chat_type="group"),
    ]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == ids
    start, contact, location, added, group_command = updates
    assert start.message is not None and start.message.text == "/start ref_123"
    assert start.message.entities[0].type == "bot_command"
    assert start.message.entities[0].length == len("/start")
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.user_id == USER
    assert location.message is not None and location.message.location is not None
    assert location.message.location.latitude == pytest.approx(10.7769)
    assert added.my_chat_member is not None
    assert added.my_chat_member.new_chat_member.status == "member"
    assert added.my_chat_member.chat.title == "Tổ dân phố 5"
    assert group_command.message is not None
    assert group_command.message.chat.type == "group"
    assert group_command.message.chat.title == "Tổ dân phố 5"


async def test_get_file_serves_an_injected_photo(tg: FakeTelegram, bot: Bot) -> None:
    data = bytes(range(256)) * 40
    await tg.user_sends_photo(USER, data, caption="Hiện trường")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.caption == "Hiện trường"
    photo = update.message.photo[-1]
    assert photo.file_size == len(data)
    file = await bot.get_file(photo.file_id)
    assert file.file_size == len(data)
    assert bytes(await file.download_as_bytearray()) == data
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_callback_press_answer_and_edit(tg: FakeTelegram, bot: Bot) -> None:
    menu = await bot.send_message(USER, "Chọn mục", reply_markup=_keyboard("muc:1"))
    await tg.user_presses(USER, "muc:1")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "muc:1"
    assert query.message is not None and query.message.message_id == menu.message_id
    await bot.answer_callback_query(query.id, text="Đã chọn")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    assert tg.callback_answers[0].text == "Đã chọn"

    edited = await bot.edit_message_text("Đã chọn mục 1", chat_id=USER, message_id=menu.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Đã chọn mục 1" and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Đã chọn mục 1", chat_id=USER, message_id=menu.message_id)
    await bot.edit_message_reply_markup(USER, menu.message_id, reply_markup=_keyboard("x"))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("?", chat_id=USER, message_id=999)
    assert [s.method for s in tg.sent_to(USER)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert tg.texts(USER) == ["Chọn mục", "Đã chọn mục 1"]

    await bot.delete_message(USER, menu.message_id)
    assert tg.deleted == [(USER, menu.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, menu.message_id)


async def test_commands_menu_button_chat_action(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Bắt đầu"), ("baocao", "Báo cáo sự việc")])
    commands = await bot.get_my_commands()
    assert [c.command for c in commands] == ["start", "baocao"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Báo-cáo", "x")])
    assert await bot.set_chat_menu_button()
    assert await bot.send_chat_action(USER, "typing")
    assert tg.chat_actions == [(USER, "typing")]
    assert await bot.close()
    assert await bot.log_out()


async def test_send_document_and_reuse_file_id(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_document(USER, document=b"a,b\n1,2\n", filename="bao_cao.csv")
    assert sent.document is not None and sent.document.file_name == "bao_cao.csv"
    assert tg.last(USER).document == b"a,b\n1,2\n"
    assert tg.last(USER).filename == "bao_cao.csv"
    again = await bot.send_document(OTHER, document=sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id
    assert tg.last(OTHER).document == b"a,b\n1,2\n"


async def test_wait_helpers(tg: FakeTelegram, bot: Bot) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        for text in ("một", "hai"):
            await bot.send_message(USER, text)

    task = asyncio.create_task(later())
    records = await tg.wait_sent(USER, count=2, timeout=3)
    await task
    assert [r.text for r in records] == ["một", "hai"]
    with pytest.raises(TimeoutError):
        await tg.wait_for(lambda: len(tg.sent) > 5, timeout=0.2)
    tg.reset_records()
    assert tg.sent == [] and not tg.calls


# --------------------------------------------------------------------------- webhook


async def test_webhook_push_with_secret_header(tg: FakeTelegram, bot: Bot) -> None:
    received: list[dict[str, object]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != "s3cret_token":
            return web.Response(status=401)
        received.append(await request.json())
        arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        # An update queued before the webhook exists is delivered once it is set.
        early = await tg.user_sends_text(USER, "trước webhook")
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret_token")
        await asyncio.wait_for(arrived.wait(), 3)
        assert received[0]["update_id"] == early

        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        update_id = await tg.user_sends_text(USER, "qua webhook")
        assert received[-1]["update_id"] == update_id
        assert tg.webhook_deliveries[-1].status == 200
        parsed = Update.de_json(json.loads(json.dumps(received[-1])), bot)
        assert parsed is not None and parsed.message is not None
        assert parsed.message.text == "qua webhook"

        raw = {"update_id": update_id + 1, "message": received[-1]["message"]}
        assert await tg.post_raw_update(raw, secret="wrong") == 401
        assert await tg.post_raw_update(raw, secret=None) == 401
        assert await tg.post_raw_update(raw) == 200

        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- whole dialog


async def test_application_polling_dialog(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Chào, mã: {' '.join(context.args or [])}",
            reply_markup=_keyboard("dong_y"),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Cảm ơn")
        await query.edit_message_text("Đã đồng ý")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest())
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await tg.user_sends_command(USER, "/start abc")
            (greeting,) = await tg.wait_sent(USER, 1)
            assert greeting.text == "Chào, mã: abc"
            await tg.user_presses(USER, "dong_y")
            await tg.wait_for(lambda: len(tg.sent_to(USER)) == 2 and bool(tg.callback_answers))
            assert tg.last(USER).method == "editMessageText"
            assert tg.last(USER).message_id == greeting.message_id
            assert tg.callback_answers[0].text == "Cảm ơn"
            await tg.user_sends_text(USER, "xin chào")
            await tg.wait_sent(USER, 3)
            assert tg.texts(USER)[-1] == "XIN CHÀO"
        finally:
            await app.updater.stop()
            await app.stop()
