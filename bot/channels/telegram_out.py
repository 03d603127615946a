"""Neutral :class:`Reply` → Telegram send calls (HTML, inline or reply keyboards)."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode

from bot.domain.messages import Ask, Reply

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


def keyboard(reply: Reply, is_group: bool) -> Markup:
    """Inline buttons for choices; a reply keyboard when a location or contact is asked."""
    if reply.ask in (Ask.LOCATION, Ask.CONTACT) and not is_group:
        first = KeyboardButton(reply.ask_label or "📍",
                               request_location=reply.ask is Ask.LOCATION,
                               request_contact=reply.ask is Ask.CONTACT)
        rows: list[list[KeyboardButton]] = [[first]]
        # Telegram cannot mix inline and reply keyboards in one message, so the other
        # choices become plain keys; the engine matches their labels when typed back.
        rows += [[KeyboardButton(c.label) for c in row if not c.url] for row in reply.choices]
        if reply.skip_label:
            rows.append([KeyboardButton(reply.skip_label)])
        return ReplyKeyboardMarkup([r for r in rows if r], resize_keyboard=True,
                                   one_time_keyboard=True)
    if reply.choices:
        return InlineKeyboardMarkup([
            [InlineKeyboardButton(c.label, url=c.url) if c.url
             else InlineKeyboardButton(c.label, callback_data=c.payload) for c in row]
            for row in reply.choices])
    if reply.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


PARSE_MODE = ParseMode.HTML
