"""The fake Zalo Bot API answers in the shapes platforms.md describes (via our client)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.channels.zalo_api import ZaloApi, ZaloApiError
from tests.fakes.zalo_api import FakeZalo


@pytest.fixture
async def zalo():
    async with FakeZalo() as fake:
        api = ZaloApi(fake.base_url, fake.token, timeout=5)
        await api.open()
        fake.api = api  # type: ignore[attr-defined]
        try:
            yield fake
        finally:
            await api.close()


async def test_get_me_and_a_wrong_token(zalo):
    me = await zalo.api.call("getMe")
    assert me == {"id": zalo.bot_id, "account_name": "binhyen_zalo_test",
                  "account_type": "BASIC", "can_join_groups": False}
    bad = ZaloApi(zalo.base_url, "1:wrong")
    await bad.open()
    with pytest.raises(ZaloApiError) as info:
        await bad.call("getMe")
    await bad.close()
    assert info.value.code == 401


async def test_get_updates_hands_out_one_event_per_call_and_408_when_idle(zalo):
    first = await zalo.user_sends_text("u1", "một")
    await zalo.user_sends_text("u1", "hai")
    event = await zalo.api.call("getUpdates", {"timeout": "1"})
    assert isinstance(event, dict) and event["event_name"] == "message.text.received"
    assert event["message"]["message_id"] == first and event["message"]["text"] == "một"
    assert event["message"]["chat"] == {"id": "u1", "chat_type": "PRIVATE"}
    assert (await zalo.api.call("getUpdates", {"timeout": 1}))["message"]["text"] == "hai"
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("getUpdates", {"timeout": "0.3"})
    assert info.value.idle and info.value.status == 408
    assert info.value.description == "Request timeout" and loop.time() - began >= 0.25


async def test_a_long_poll_wakes_up_for_a_new_event(zalo):
    poll = asyncio.create_task(zalo.api.call("getUpdates", {"timeout": "5"}))
    await asyncio.sleep(0.05)
    await zalo.user_sends_text("u2", "chào")
    assert (await asyncio.wait_for(poll, 2))["message"]["text"] == "chào"


async def test_webhook_methods_answer_url_and_time(zalo):
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("getWebhookInfo")
    assert info.value.code == 404  # never had a webhook
    with pytest.raises(ZaloApiError):
        await zalo.api.call("setWebhook", {"url": "http://example.com/hook",
                                           "secret_token": "12345678"})
    with pytest.raises(ZaloApiError):
        await zalo.api.call("setWebhook", {"url": "https://example.com/hook",
                                           "secret_token": "short"})
    set_ = await zalo.api.call("setWebhook", {"url": "https://example.com/hook",
                                              "secret_token": "12345678"})
    assert set_["url"] == "https://example.com/hook" and isinstance(set_["updated_at"], int)
    assert (await zalo.api.call("getWebhookInfo"))["url"] == "https://example.com/hook"
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("getUpdates", {"timeout": 1})
    assert info.value.code == 409
    assert (await zalo.api.call("deleteWebhook"))["url"] == ""


async def test_webhook_pushes_carry_the_secret_header(zalo):
    seen: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Bot-Api-Secret-Token"), await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await zalo.api.call("setWebhook", {"url": f"http://127.0.0.1:{port}/hook",
                                           "secret_token": "s3cret-token"})
        await zalo.user_sends_text("u3", "qua webhook")
        await zalo.user_sends_text("u3", "không bọc", wrap=False)
        assert await zalo.post({"event_name": "x"}, secret=None) == 200
    finally:
        await runner.cleanup()
    assert seen[0][0] == "s3cret-token" and seen[0][1]["ok"] is True
    assert seen[0][1]["result"]["message"]["text"] == "qua webhook"
    assert seen[1][1]["message"]["text"] == "không bọc"
    assert seen[2][0] is None
    assert [d.status for d in zalo.webhook_deliveries] == [200, 200, 200]


async def test_sends_enforce_the_limits(zalo):
    ok = await zalo.api.call("sendMessage", {"chat_id": "u1", "text": "x" * 2000})
    assert set(ok) == {"message_id", "date"}
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("sendMessage", {"chat_id": "u1", "text": "x" * 2001})
    assert info.value.code == 400 and "too long" in info.value.description
    with pytest.raises(ZaloApiError):
        await zalo.api.call("sendPhoto", {"chat_id": "u1", "photo": "not-a-url"})
    assert await zalo.api.call("sendChatAction", {"chat_id": "u1", "action": "typing"}) is None
    assert zalo.chat_actions == [("u1", "typing")]
    assert zalo.texts("u1") == ["x" * 2000]


async def test_user_photos_are_served_and_bot_photos_fetched(zalo):
    await zalo.user_sends_photo("u1", b"\xff\xd8\xff-jpeg", caption="ảnh")
    event = await zalo.api.call("getUpdates", {"timeout": 1})
    url = event["message"]["photo_url"]
    async with zalo.api.session.get(url) as resp:
        assert await resp.read() == b"\xff\xd8\xff-jpeg"
    await zalo.api.call("sendPhoto", {"chat_id": "u1", "photo": url, "caption": "lại"})
    assert zalo.sent[-1].photo == b"\xff\xd8\xff-jpeg" and zalo.sent[-1].text == "lại"
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("sendPhoto", {"chat_id": "u1", "photo": url + "-missing"})
    assert "cannot fetch" in info.value.description


async def test_scripted_failures_and_blocked_users(zalo):
    zalo.fail_next("sendMessage", 429, "Too many requests", retry_after=7)
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("sendMessage", {"chat_id": "u1", "text": "a"})
    assert info.value.code == 429 and info.value.retry_after == 7
    await zalo.api.call("sendMessage", {"chat_id": "u1", "text": "b"})
    zalo.block("u9")
    with pytest.raises(ZaloApiError) as info:
        await zalo.api.call("sendMessage", {"chat_id": "u9", "text": "c"})
    assert info.value.code == 403
    assert zalo.texts() == ["b"]
