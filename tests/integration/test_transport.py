"""The aiohttp request backend for python-telegram-bot, against the fake Bot API."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.ext import Application
from telegram.request import RequestData

from bot.channels.transport import AiohttpRequest
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123:ABC"
USER = 601


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


def _bot(tg: FakeTelegram, request: AiohttpRequest | None = None) -> Bot:
    return Bot(
        TOKEN,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(),
    )


async def test_send_text(tg: FakeTelegram) -> None:
    async with _bot(tg) as bot:
        message = await bot.send_message(USER, "<i>Chào</i> bạn", parse_mode="HTML")
    assert message.text == "Chào bạn"
    assert tg.last(USER).text == "<i>Chào</i> bạn"
    assert tg.last(USER).parse_mode == "HTML"
    assert tg.calls["getMe"] == 1


async def test_send_photo_goes_multipart(tg: FakeTelegram) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 100
    async with _bot(tg) as bot:
        message = await bot.send_photo(
            USER, photo=data, caption="Ảnh hiện trường", filename="ảnh_hiện_trường.jpg"
        )
        file = await bot.get_file(message.photo[-1].file_id)
        downloaded = bytes(await file.download_as_bytearray())
    record = tg.last(USER)
    assert record.method == "sendPhoto"
    assert record.photo == data
    assert record.filename == "ảnh_hiện_trường.jpg"
    assert record.text == "Ảnh hiện trường"
    assert downloaded == data


async def test_read_timeout_becomes_timed_out(tg: FakeTelegram) -> None:
    tg.delay_next("sendMessage", seconds=1.0)
    async with _bot(tg) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "chậm", read_timeout=0.2)
        assert loop.time() - started < 0.8
        # The server still carried it out: a timeout does not prove the send failed.
        await tg.wait_sent(USER, 1, timeout=3)


async def test_default_timeouts_apply_without_per_call_values(tg: FakeTelegram) -> None:
    tg.delay_next("sendMessage", seconds=1.0)
    async with _bot(tg, AiohttpRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "chậm")


async def test_pool_timeout_when_every_connection_is_busy(tg: FakeTelegram) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1, connect_timeout=0.1)
    async with _bot(tg, request) as bot:
        tg.delay_next("sendMessage", seconds=1.0, chat_id=USER)
        slow = asyncio.create_task(bot.send_message(USER, "giữ kết nối"))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut):
            await bot.send_message(USER + 1, "chờ kết nối")
        await slow


async def test_long_poll_outlasts_the_read_timeout(tg: FakeTelegram) -> None:
    # PTB adds the long-poll timeout to read_timeout; a 0.5 s read timeout must not cut
    # a 3 s getUpdates short.
    bot = Bot(
        TOKEN,
        base_url=tg.base_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(read_timeout=0.5),
    )
    async with bot:
        poll = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(1.0)
        await tg.user_sends_text(USER, "muộn")
        updates = await asyncio.wait_for(poll, 3)
    assert updates[0].message is not None and updates[0].message.text == "muộn"


async def test_fifty_concurrent_sends_all_succeed(tg: FakeTelegram) -> None:
    async with _bot(tg) as bot:
        to_many = await asyncio.gather(*(bot.send_message(1000 + i, f"tin {i}") for i in range(50)))
        to_one = await asyncio.gather(*(bot.send_message(USER, f"tin {i}") for i in range(50)))
    assert len(tg.sent) == 100
    assert {m.chat.id for m in to_many} == {1000 + i for i in range(50)}
    assert sorted(m.message_id for m in to_one) == list(range(1, 51))
    assert sorted(tg.texts(USER)) == sorted(f"tin {i}" for i in range(50))


async def test_connection_refused_becomes_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    request = AiohttpRequest(connect_timeout=1.0)
    async with request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert not isinstance(caught.value, TimedOut)


async def test_lifecycle(tg: FakeTelegram) -> None:
    request = AiohttpRequest()
    assert not request.is_initialized
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{tg.api_url}/getMe", "POST")
    await request.initialize()
    await request.initialize()  # idempotent: PTB may initialize more than once
    assert request.is_initialized
    status, payload = await request.do_request(f"{tg.api_url}/sendMessage", "POST", RequestData())
    assert status == 400 and b"chat_id is empty" in payload
    await request.shutdown()
    await request.shutdown()
    assert not request.is_initialized
    # A shut-down request can be brought back, as Application restarts do.
    async with request:
        status, _ = await request.do_request(f"{tg.api_url}/getMe", "GET")
        assert status == 200


async def test_application_builder_accepts_the_transport(tg: FakeTelegram) -> None:
    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest())
        .build()
    )
    async with app:
        await app.bot.send_message(USER, "qua Application")
    assert tg.texts(USER) == ["qua Application"]
