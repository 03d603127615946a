"""What every channel adapter offers the core, and how sends fail."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol

from bot.domain.messages import Reply


class Failure(StrEnum):
    RETRY_AFTER = "retry_after"  # flood control: wait, then send the same message again
    TRANSIENT = "transient"  # timeout, 5xx, network: retry with backoff
    UNREACHABLE = "unreachable"  # blocked, deactivated, chat gone: stop sending there
    PERMANENT = "permanent"  # this message can never be sent (too long, bad button…)


class SendError(Exception):
    def __init__(self, failure: Failure, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(f"{failure}: {reason}")
        self.failure = failure
        self.reason = reason[:280]
        self.retry_after = retry_after


class Channel(Protocol):
    """A messenger the bot speaks on."""

    name: str
    numbered: bool  # choices as numbered text ("1", "2"…) rather than buttons

    async def send(self, chat_id: str, reply: Reply, *, is_group: bool = False,
                   background: bool = False) -> None:
        """Send one reply; raise :class:`SendError` on failure. ``background`` sends
        (queued notifications) let replies to people chatting now go first."""
        ...


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, then line, then word boundaries so each part fits ``limit``."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        cut = _outside_markup(rest, cut) or cut
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


_ENTITY = re.compile(r"&#?[0-9A-Za-z]{1,8};")


def _outside_markup(text: str, cut: int) -> int:
    """Move ``cut`` back to the start of an HTML tag or entity (``&lt;``) it would split."""
    lt = text.rfind("<", max(0, cut - 300), cut)
    if lt > text.rfind(">", 0, cut) and text.find(">", cut) != -1:
        cut = lt
    amp = text.rfind("&", max(0, cut - 9), cut)
    entity = _ENTITY.match(text, amp) if amp != -1 else None
    if entity is not None and entity.end() > cut:
        cut = amp
    return cut
