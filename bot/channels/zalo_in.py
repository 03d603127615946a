"""Zalo Bot Platform events → neutral :class:`Inbound` (photo bytes are fetched later).

An event is ``{"event_name": "message.text.received" | "message.image.received" | …,
"message": {"message_id", "chat": {"id", "chat_type"}, "from": {"id", "display_name"},
"text" | "photo_url" (+ "caption") | "sticker"}}``; webhook deliveries may wrap it as
``{"ok": true, "result": {…}}``. The message id is the update id, so a retried delivery
is processed once.
"""

from __future__ import annotations

from typing import Any

from bot.domain.messages import ChatType, Inbound, Kind
from bot.text import fold, nfc

CHANNEL = "zalo"
MAX_TEXT = 4000


def unwrap(body: Any) -> dict[str, Any] | None:
    """The event itself, whether it came bare or wrapped in ``result``."""
    if not isinstance(body, dict):
        return None
    if "event_name" not in body and isinstance(body.get("result"), dict):
        body = body["result"]
    return body if isinstance(body.get("event_name"), str) else None


def parse_command(text: str) -> tuple[str, str] | None:
    """``/LienKetZalo ABC`` → ("lienketzalo", "ABC"); None when not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    return fold(head), args.strip()


def photo_url(event: dict[str, Any]) -> str:
    msg = event.get("message") or {}
    url = msg.get("photo_url") or msg.get("url") or ""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def to_inbound(event: dict[str, Any]) -> Inbound | None:
    """Translate an event, or None for events the bot ignores (no message, the bot itself)."""
    msg = event.get("message")
    if not isinstance(msg, dict):
        return None
    chat, sender = msg.get("chat") or {}, msg.get("from") or {}
    mid, chat_id, user_id = msg.get("message_id"), chat.get("id"), sender.get("id")
    if not (mid and chat_id and user_id) or sender.get("is_bot"):
        return None
    chat_type = ChatType.PRIVATE if str(chat.get("chat_type", "PRIVATE")).upper() == "PRIVATE" \
        else ChatType.GROUP

    def ev(kind: Kind, **kw: Any) -> Inbound:
        return Inbound(channel=CHANNEL, chat_id=str(chat_id), user_id=str(user_id), kind=kind,
                       chat_type=chat_type, update_id=str(mid)[:64],
                       display_name=nfc(str(sender.get("display_name") or ""))[:200], **kw)

    name = str(event.get("event_name", ""))
    if name == "message.text.received" and isinstance(msg.get("text"), str):
        text = nfc(msg["text"])[:MAX_TEXT]
        cmd = parse_command(text)
        if cmd is not None:
            return ev(Kind.COMMAND, command=cmd[0], args=cmd[1], text=text)
        return ev(Kind.TEXT, text=text)
    if name == "message.image.received":
        caption = nfc(str(msg.get("caption") or ""))[:MAX_TEXT]
        return ev(Kind.PHOTO, text=caption,
                  payload="" if photo_url(event) else "errors.photo_download")
    return ev(Kind.OTHER)
