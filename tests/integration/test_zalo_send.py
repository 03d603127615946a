"""Sending on Zalo: limits, failure kinds, backoff, the outbox, pacing, links to photos."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.channels.base import Failure, SendError
from bot.domain.messages import Choice, Reply
from broadcasts import outbox
from storage.tables import Delivery
from tests.support.zalo_harness import ZaloHarness

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(100))


async def test_long_texts_are_split_at_2000_with_the_menu_last(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        assert h.rt.zalo is not None
        body = "\n\n".join(f"Đoạn {i}: " + "chữ " * 120 for i in range(12))
        await h.rt.zalo.send("zc-1", Reply(text=body, choices=((Choice("Đọc tiếp", "!x:1"),),)))
        parts = h.zalo.texts("zc-1")
        assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
        assert parts[-1].endswith("1. Đọc tiếp") and "1. Đọc tiếp" not in parts[0]


@pytest.mark.parametrize("status, description, failure", [
    (500, "Internal Server Error", Failure.TRANSIENT),
    (429, "Too many requests", Failure.RETRY_AFTER),
    (403, "Forbidden: user has blocked the bot", Failure.UNREACHABLE),
    (400, "Bad Request: text is too long (max 2000)", Failure.PERMANENT)])
async def test_failures_raise_send_errors_of_the_right_kind(make_config, sqlite_url, clock,
                                                            status, description, failure):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        assert h.rt.zalo is not None
        h.zalo.fail_next("sendMessage", status, description, retry_after=9)
        with pytest.raises(SendError) as info:
            await h.rt.zalo.send("zc-2", Reply(text="Xin chào"))
        assert info.value.failure is failure
        if failure is Failure.RETRY_AFTER:
            assert info.value.retry_after == 9


async def test_after_an_error_sends_back_off_and_direct_replies_are_retried(
        make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        assert h.rt.zalo is not None
        h.zalo.fail_next("sendMessage", 502, "Bad Gateway")
        began = time.monotonic()
        await h.rt.zalo.send_now("zc-3", Reply(text="Thông báo"))  # fails once, then goes
        assert h.zalo.texts("zc-3") == ["Thông báo"]
        assert time.monotonic() - began >= 0.4  # waited out the backoff first
        assert h.rt.zalo.out.backoff.delay == 0  # and reset after the success


async def test_outbox_rows_reach_zalo_recipients_at_the_zalo_rate(make_config, sqlite_url,
                                                                  clock):
    overrides = {"limits": {"zalo_per_second": 20}}
    async with ZaloHarness(make_config, sqlite_url, clock, overrides=overrides) as h:
        h.zalo.block("zb-3")
        async with h.rt.deps.db.uow() as s:
            for i in range(30):
                await outbox.enqueue(s, dedupe_key=f"bc:1:zb-{i}", kind="broadcast",
                                     channel="zalo", chat_id=f"zb-{i}",
                                     reply=Reply(text=f"<b>Cảnh báo</b> lừa đảo #{i}"),
                                     at=clock(), priority=outbox.PRIORITY_BROADCAST)
        await h.rt.dispatcher.run_once()
        assert len(h.zalo.sent) == 29 and h.zalo.texts("zb-7") == ["Cảnh báo lừa đảo #7"]
        stamps = [s.at for s in h.zalo.sent]
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        assert 0.8 * 20 <= rate <= 1.1 * 20  # at the configured limit, not above it
        async with h.rt.deps.db.read() as s:
            rows = {r.chat_id: r for r in (await s.execute(select(Delivery))).scalars()}
        assert rows["zb-3"].state == "unreachable"
        assert rows["zb-0"].state == "sent"


async def test_photos_without_a_public_address_are_described(make_config, sqlite_url, clock):
    overrides = {"web": {"public_url": ""}}
    async with ZaloHarness(make_config, sqlite_url, clock, overrides=overrides) as h:
        assert h.rt.zalo is not None
        await h.rt.zalo.send("zc-5", Reply(text="BY-26-000001 📷 1", photo=JPEG))
        sent = h.zalo.sent_to("zc-5")
        assert [s.method for s in sent] == ["sendMessage"]
        assert "không hiển thị được trên Zalo" in sent[0].text and "BY-26-000001" in sent[0].text


async def test_a_notifications_menu_is_remembered_for_typed_numbers(make_config, sqlite_url,
                                                                    clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        assert h.rt.zalo is not None
        menu = ((Choice("Trợ giúp", "!go:trogiup"), Choice("Cài đặt", "!go:caidat")),)
        async with h.rt.deps.db.uow() as s:
            await outbox.enqueue(s, dedupe_key="n:1", kind="notice", channel="zalo",
                                 chat_id="zn-1", reply=Reply(text="Chọn:", choices=menu),
                                 at=clock())
        await h.deliver()
        await h.restart()  # remembered in the database, not in memory
        out = await h.zuser("zn-1").send("1")
        assert "/baotin" in out[-1].text  # the help text


async def test_readiness_reports_the_zalo_api(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        url = f"http://127.0.0.1:{h.config.web.port}/readyz"
        async with h.zalo.http.get(url) as resp:
            assert resp.status == 200 and (await resp.json())["checks"]["zalo"] == "ok"
        h.zalo.fail_next("getMe", 502, "Bad Gateway")
        async with h.zalo.http.get(url) as resp:
            body = await resp.json()
        assert resp.status == 503 and body["checks"]["zalo"].startswith("unreachable")
