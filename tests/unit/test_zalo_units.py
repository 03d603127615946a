"""Numbered-text rendering, typed answers, Zalo event parsing and error classification."""

from __future__ import annotations

import pytest

from bot.channels.base import Failure
from bot.channels.numbered import CANCEL, Menu, render, resolve
from bot.channels.zalo_api import ZaloApiError, classify
from bot.channels.zalo_in import to_inbound, unwrap
from bot.domain.messages import Choice, Kind, Reply, choices


def test_choices_are_numbered_and_cancel_is_zero():
    reply = Reply(text="<b>Kết quả</b> xử lý?", choices=choices(
        ("Đã giải quyết", "t.ok"), ("Không đủ cơ sở", "t.no"), ("Hủy", "t.cancel")),
        cancel_payload="t.cancel")
    shown = render(reply)
    assert shown.text == "Kết quả xử lý?\n\n1. Đã giải quyết\n2. Không đủ cơ sở\n0. Hủy"
    assert shown.menu == Menu((("Đã giải quyết", "t.ok"), ("Không đủ cơ sở", "t.no")),
                              "t.cancel", "Hủy")


def test_short_choices_share_a_line_links_show_their_address():
    reply = Reply(text="Chọn:", choices=(
        (Choice("Tiếng Việt", "l.vi"), Choice("English", "l.en")),
        (Choice("Mở trang", "", url="https://binhyen.example.vn/chat"),)))
    text = render(reply).text
    assert "1. Tiếng Việt   2. English" in text
    assert "Mở trang: https://binhyen.example.vn/chat" in text
    assert render(reply).menu.items == (("Tiếng Việt", "l.vi"), ("English", "l.en"))


def test_a_cancel_payload_without_its_own_choice_gets_the_given_label():
    shown = render(Reply(text="Nhập câu hỏi:", cancel_payload="x.cancel"), cancel_label="Cancel")
    assert shown.text.endswith("0. Cancel") and shown.menu.cancel == "x.cancel"


@pytest.mark.parametrize("typed, payload", [
    ("2", "!go:sos"), (" 2. ", "!go:sos"), ("Khẩn cấp", "!go:sos"), ("khan cap", "!go:sos"),
    ("🆘 KHẨN CẤP", "!go:sos"), ("0", "t.stop"), ("huy", "t.stop"), ("Hủy", "t.stop"),
    ("dung lai", "t.stop"), ("7", None), ("xe máy màu đỏ", None), ("0912345678", None)])
def test_typed_answers_resolve_against_the_menu(typed, payload):
    menu = Menu((("📝 Báo tin", "!go:baotin"), ("🆘 Khẩn cấp", "!go:sos")), "t.stop", "Dừng lại")
    assert resolve(typed, menu) == payload


def test_cancel_without_a_menu_means_the_cancel_command():
    assert resolve("0", None) == CANCEL and resolve("Huỷ", Menu()) == CANCEL
    assert resolve("1", None) is None


def _event(**msg):
    base = {"message_id": "m1", "chat": {"id": "u1", "chat_type": "PRIVATE"},
            "from": {"id": "u1", "display_name": "Lan", "is_bot": False}}
    return {"event_name": msg.pop("event", "message.text.received"), "message": {**base, **msg}}


def test_events_become_inbound():
    ev = to_inbound(_event(text="/LienKetZalo  abcd-2345"))
    assert ev is not None and ev.kind is Kind.COMMAND and ev.command == "lienketzalo"
    assert ev.args == "abcd-2345" and ev.update_id == "m1" and ev.channel == "zalo"
    ev = to_inbound(_event(text="xin chào"))
    assert ev is not None and ev.kind is Kind.TEXT and ev.display_name == "Lan"
    ev = to_inbound(_event(event="message.image.received", photo_url="https://x/y.jpg",
                           caption="ảnh"))
    assert ev is not None and ev.kind is Kind.PHOTO and ev.text == "ảnh" and not ev.payload
    ev = to_inbound(_event(event="message.sticker.received", sticker="s1"))
    assert ev is not None and ev.kind is Kind.OTHER
    assert to_inbound({"event_name": "message.unsupported.received"}) is None
    group = _event(text="hi")
    group["message"]["chat"]["chat_type"] = "GROUP"
    assert not to_inbound(group).is_private  # type: ignore[union-attr]


def test_webhook_bodies_bare_or_wrapped():
    event = _event(text="hi")
    assert unwrap(event) == event
    assert unwrap({"ok": True, "result": event}) == event
    assert unwrap({"ok": True}) is None and unwrap([event]) is None


@pytest.mark.parametrize("status, code, text, failure", [
    (429, 429, "Too many requests", Failure.RETRY_AFTER),
    (500, 500, "Internal Server Error", Failure.TRANSIENT),
    (0, 0, "ClientConnectorError", Failure.TRANSIENT),
    (401, 401, "Unauthorized", Failure.TRANSIENT),
    (403, 403, "Forbidden: user has blocked the bot", Failure.UNREACHABLE),
    (400, 400, "Bad Request: user not found", Failure.UNREACHABLE),
    (400, 400, "Bad Request: text is too long (max 2000)", Failure.PERMANENT)])
def test_send_failures_map_to_the_retry_policy(status, code, text, failure):
    assert classify(ZaloApiError(status, code, text, retry_after=3)).failure is failure


def test_the_engine_resolves_typed_numbers_to_action_payloads_too():
    from bot.domain.messages import Inbound
    from handlers.context import MENU_KEY
    from handlers.engine import resolve_typed_choice

    data = {MENU_KEY: [["Hủy", "a1b.cancel"], ["✍️ Trả lời", "!reply:7"]]}
    ev = Inbound(channel="zalo", chat_id="c", user_id="u", kind=Kind.TEXT, text="2")
    picked = resolve_typed_choice(ev, data, numbered=True)
    assert picked.kind is Kind.CHOICE and picked.payload == "!reply:7"
    assert resolve_typed_choice(ev, data, numbered=False).kind is Kind.TEXT
