"""Telegram updates → neutral :class:`Inbound` events."""

from __future__ import annotations

from telegram import Chat, ChatMemberUpdated, Message, Update

from bot.domain.messages import ChatType, Inbound, Kind
from bot.text import fold, nfc

CHANNEL = "telegram"


def _chat_type(chat: Chat) -> ChatType:
    return ChatType.PRIVATE if chat.type == Chat.PRIVATE else ChatType.GROUP


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """``/BaoTin@MyBot args`` → ("baotin", "args"); None when addressed to another bot."""
    if not text.startswith("/"):
        return None
    head, _, args = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    return fold(name), args.strip()


def _base(update: Update, chat: Chat, user_id: int, kind: Kind, **kw: object) -> Inbound:
    user = update.effective_user
    return Inbound(
        channel=CHANNEL, chat_id=str(chat.id), user_id=str(user_id), kind=kind,
        chat_type=_chat_type(chat), update_id=str(update.update_id),
        display_name=nfc(user.full_name) if user else "",
        username=(user.username or "") if user else "",
        language=(user.language_code or "")[:2] if user else "",
        chat_title=chat.title or "", **kw)  # type: ignore[arg-type]


def _quoted(msg: Message) -> str:
    """The text or caption of the bot's message this one replies to (swipe-to-reply), so
    the core can tell which case it continues; a reply to anyone else's message is none."""
    target = msg.reply_to_message
    if target is None or target.from_user is None or not target.from_user.is_bot:
        return ""
    return nfc(target.text or target.caption or "")


def _from_message(update: Update, msg: Message, bot_username: str) -> Inbound | None:
    if msg.from_user is None:
        return None
    uid = msg.from_user.id
    reply_to = str(msg.reply_to_message.message_id) if msg.reply_to_message else ""
    quoted = _quoted(msg)
    if msg.text is not None:
        cmd = parse_command(msg.text, bot_username)
        if cmd is not None:
            return _base(update, msg.chat, uid, Kind.COMMAND, command=cmd[0], args=cmd[1],
                         text=nfc(msg.text))
        return _base(update, msg.chat, uid, Kind.TEXT, text=nfc(msg.text), reply_to=reply_to,
                     reply_to_text=quoted)
    if msg.contact is not None:
        own = msg.contact.user_id is None or msg.contact.user_id == uid
        # Telegram shares numbers in international form, often without the "+"; without it
        # a foreign number would be read as a Vietnamese national one and refused.
        phone = "+" + msg.contact.phone_number.strip().lstrip("+")
        return _base(update, msg.chat, uid, Kind.CONTACT, phone=phone, contact_is_own=own)
    if msg.location is not None:
        return _base(update, msg.chat, uid, Kind.LOCATION, latitude=msg.location.latitude,
                     longitude=msg.location.longitude)
    if msg.photo or msg.document:
        # The photo bytes are fetched by the adapter; the caption travels as text.
        return _base(update, msg.chat, uid, Kind.PHOTO, text=nfc(msg.caption or ""),
                     reply_to=reply_to, reply_to_text=quoted)
    return _base(update, msg.chat, uid, Kind.OTHER)


def _from_member(update: Update, cm: ChatMemberUpdated) -> Inbound | None:
    if cm.chat.type == Chat.PRIVATE:
        return None
    joined = cm.new_chat_member.status in ("member", "administrator")
    was_in = cm.old_chat_member.status in ("member", "administrator")
    if joined == was_in:
        return None
    return _base(update, cm.chat, cm.from_user.id,
                 Kind.JOINED_GROUP if joined else Kind.LEFT_GROUP)


def to_inbound(update: Update, bot_username: str) -> Inbound | None:
    """Translate an update, or None for updates the bot ignores."""
    if update.callback_query is not None:
        q = update.callback_query
        msg = q.message
        if msg is None or q.data is None:
            return None
        return _base(update, msg.chat, q.from_user.id, Kind.CHOICE, payload=q.data,
                     message_ref=str(msg.message_id))
    if update.my_chat_member is not None:
        return _from_member(update, update.my_chat_member)
    # Edits are ignored: an edited old answer would otherwise answer the current question.
    msg = update.message
    if msg is None:
        return None
    return _from_message(update, msg, bot_username)
