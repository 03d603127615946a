"""Channel-neutral inbound events and outgoing replies.

Adapters translate platform updates into :class:`Inbound` and render :class:`Reply`
into buttons (Telegram, web chat) or numbered text (Zalo). Nothing here knows an SDK.

Reply text uses a tiny markup subset: ``<b> <i> <code> <a href>`` with every piece of
user text passed through :func:`esc`. Telegram sends it as HTML, the web chat shows it
as HTML, plain-text channels strip it with :func:`to_plain`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    PHOTO = "photo"
    LOCATION = "location"
    CONTACT = "contact"
    JOINED_GROUP = "joined_group"
    LEFT_GROUP = "left_group"
    OTHER = "other"


class ChatType(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo already downloaded by the adapter (bytes kept off the state row)."""

    data: bytes
    mime: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a user did, in neutral form."""

    channel: str
    chat_id: str
    user_id: str
    kind: Kind
    chat_type: ChatType = ChatType.PRIVATE
    text: str = ""
    command: str = ""  # folded, without "/" and "@bot"
    args: str = ""
    payload: str = ""  # the chosen Choice.payload
    photo: Photo | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone: str = ""  # shared contact, as the platform gave it
    contact_is_own: bool = True
    update_id: str = ""  # platform update id, for at-most-once intake
    display_name: str = ""
    username: str = ""
    language: str = ""  # the client's language hint
    chat_title: str = ""
    reply_to: str = ""  # message id the user replied to, if any
    reply_to_text: str = ""  # the text or caption of the bot's message the user replied to
    message_ref: str = ""  # platform id of the message that carried a pressed button

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.chat_id, self.user_id)

    @property
    def is_private(self) -> bool:
        return self.chat_type is ChatType.PRIVATE


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    payload: str  # short; Telegram callback data is at most 64 bytes
    url: str = ""  # a link button instead of a callback


class Ask(StrEnum):
    """A special input the reply asks for (rendered as a reply keyboard on Telegram)."""

    NONE = ""
    LOCATION = "location"
    CONTACT = "contact"
    PHOTO = "photo"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()  # rows of buttons
    ask: Ask = Ask.NONE
    ask_label: str = ""  # label for the location/contact button
    skip_label: str = ""  # label of a plain "skip" key next to an Ask button
    photo: bytes | None = None
    photo_mime: str = ""
    document: bytes | None = None
    document_name: str = ""
    remove_keyboard: bool = False
    cancel_payload: str = ""  # payload that "0" selects on numbered-text channels

    def flat_choices(self) -> list[Choice]:
        return [c for row in self.choices for c in row]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for delivery rows (binary parts are not stored here)."""
        return {
            "text": self.text,
            "choices": [[{"label": c.label, "payload": c.payload, "url": c.url} for c in row]
                        for row in self.choices],
            "ask": str(self.ask),
            "ask_label": self.ask_label,
            "skip_label": self.skip_label,
            "remove_keyboard": self.remove_keyboard,
            "cancel_payload": self.cancel_payload,
            "document_name": self.document_name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reply:
        return cls(
            text=d.get("text", ""),
            choices=tuple(tuple(Choice(c["label"], c["payload"], c.get("url", "")) for c in row)
                          for row in d.get("choices", [])),
            ask=Ask(d.get("ask", "")),
            ask_label=d.get("ask_label", ""),
            skip_label=d.get("skip_label", ""),
            remove_keyboard=d.get("remove_keyboard", False),
            cancel_payload=d.get("cancel_payload", ""),
            document_name=d.get("document_name", ""),
        )


def esc(text: object) -> str:
    """Escape user text for the markup subset."""
    return html.escape(str(text), quote=False)


def choices(*labels_payloads: tuple[str, str], per_row: int = 1) -> tuple[tuple[Choice, ...], ...]:
    """Build rows of choices from (label, payload) pairs."""
    items = [Choice(label, payload) for label, payload in labels_payloads]
    return tuple(tuple(items[i:i + per_row]) for i in range(0, len(items), per_row))


_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)


def to_plain(markup: str) -> str:
    """Markup subset to plain text; a link keeps its target after the label."""

    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("tel:") or target == label:
            return label
        return f"{label} ({target})"

    return html.unescape(_TAG.sub("", _HREF.sub(link, markup)))
