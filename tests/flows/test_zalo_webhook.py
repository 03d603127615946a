"""Zalo intake: the webhook's secret, event shapes, duplicates, and idle polling."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.channels.zalo import ZaloChannel
from storage.tables import Conversation, ProcessedUpdate
from tests.support.zalo_harness import ZSECRET, ZaloHarness


def hello(mid: str, text: str = "Xin chào", user: str = "zw-1") -> dict:
    return {"event_name": "message.text.received",
            "message": {"message_id": mid, "date": 1767225600000, "message_type": "CHAT_MESSAGE",
                        "chat": {"id": user, "chat_type": "PRIVATE"},
                        "from": {"id": user, "display_name": "Hoa", "is_bot": False},
                        "text": text}}


async def processed(h: ZaloHarness) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(ProcessedUpdate).where(
            ProcessedUpdate.channel == "zalo"))).scalar_one())


async def test_webhook_refuses_a_missing_or_wrong_secret(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock, zalo_mode="webhook") as h:
        assert h.zalo.webhook_url and h.zalo.webhook_url.endswith("/zalo/webhook")
        assert h.zalo.webhook_secret == ZSECRET  # registered at start-up
        assert await h.zalo.post(hello("m1"), secret=None) == 403
        assert await h.zalo.post(hello("m2"), secret="not-the-secret") == 403
        assert await h.zalo.post(hello("m3"), secret=ZSECRET[:-1]) == 403
        assert h.zalo.sent == [] and await processed(h) == 0
        async with h.rt.deps.db.read() as s:
            assert (await s.execute(select(Conversation))).first() is None


async def test_bare_and_wrapped_events_are_accepted_and_duplicates_handled_once(
        make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock, zalo_mode="webhook") as h:
        assert await h.zalo.post(hello("m10")) == 200  # bare
        first = len(h.zalo.sent)
        assert first >= 2 and "dữ liệu cá nhân" in h.zalo.sent[-1].text
        assert await h.zalo.post({"ok": True, "result": hello("m11", "/trogiup")}) == 200
        assert "/baotin" in h.zalo.sent[-1].text  # wrapped, as in the published samples
        count = len(h.zalo.sent)
        # Zalo retries a delivery it thinks failed: the same message_id is processed once.
        assert await h.zalo.post({"ok": True, "result": hello("m11", "/trogiup")}) == 200
        assert await h.zalo.post(hello("m11", "/trogiup")) == 200
        assert len(h.zalo.sent) == count and await processed(h) == 2
        # Events the bot does not use are acknowledged, not retried forever.
        assert await h.zalo.post({"event_name": "message.unsupported.received"}) == 200


async def test_the_webhook_route_exists_only_in_webhook_mode(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:  # polling
        url = f"http://127.0.0.1:{h.config.web.port}/zalo/webhook"
        assert await h.zalo.post(hello("m20"), url=url) == 404
        await h.zalo.wait_for(lambda: h.zalo.calls["getUpdates"] >= 1)  # polling has begun
        assert h.zalo.calls["deleteWebhook"] == 1 and h.zalo.calls["setWebhook"] == 0


async def test_idle_polls_answer_408_and_polling_carries_on(make_config, sqlite_url, clock,
                                                          monkeypatch):
    monkeypatch.setattr(ZaloChannel, "POLL_TIMEOUT", 1.0)
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await h.zalo.wait_for(lambda: h.zalo.calls["getUpdates"] >= 2, timeout=5)
        u = h.zuser("zp-1", "Minh")
        out = await u.send("/trogiup")
        assert "/baotin" in out[-1].text
        # Two events in a row for one chat are answered in order.
        m1 = await h.zalo.user_sends_text("zp-1", "/trogiup", "Minh")
        m2 = await h.zalo.user_sends_text("zp-1", "/start", "Minh")
        await asyncio.gather(h.zhandled(m1), h.zhandled(m2))
        texts = h.zalo.texts("zp-1")
        assert "/baotin" in texts[-3] and "dữ liệu cá nhân" in texts[-1]
