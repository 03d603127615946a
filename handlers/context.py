"""What a step handler gets: the event, the flow's collected data, and ways to answer.

Handlers read ``ctx.ev`` and ``ctx.data``, call services with ``ctx.db`` (the update's
unit of work, committed by the engine), and answer with ``ctx.say``/``ctx.ask``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.domain.messages import Ask, Choice, Inbound, Reply
from bot.i18n import size
from bot.i18n import t as translate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.deps import Deps
    from storage.tables import Person

MENU_KEY = "_menu"


def step_tag(flow: str | None, step: str | None) -> str:
    """Three characters naming a step, prefixed to its buttons to spot stale presses."""
    return hashlib.sha1(f"{flow}:{step}".encode(), usedforsecurity=False).hexdigest()[:3]


@dataclass
class Ctx:
    ev: Inbound
    db: AsyncSession
    deps: Deps
    flow: str | None
    step: str | None
    data: dict[str, Any]
    person: Person | None
    lang: str
    value: str = ""  # the chosen value of a pressed button or typed menu entry
    arg: str = ""  # the argument of a "!verb:arg" action
    args: str = ""  # the text after a command ("/start inv_xyz" → "inv_xyz")
    replies: list[Reply] = field(default_factory=list)
    stale: bool = False
    forget: bool = False  # the person was erased: save no conversation state
    roles: list[tuple[str, int]] | None = None  # (role, area_id), loaded on demand
    after_commit: list[Callable[[], Any]] = field(default_factory=list)
    commands: Any = None  # the engine's command runner (see Engine.run_command)

    @property
    def now(self) -> datetime:
        return self.deps.clock()

    def t(self, key: str, **kwargs: Any) -> str:
        return translate(self.lang, key, **kwargs)

    def photo_refused(self, reason: str) -> str:
        """Why a photo was refused (a catalogue key), naming the configured size limit."""
        return self.t(reason, max=size(self.lang, self.deps.config.limits.photo_max_bytes))

    # --- state -----------------------------------------------------------------
    def goto(self, step: str, flow: str | None = None) -> None:
        """Move to ``step`` (optionally in another flow); buttons of old steps go stale."""
        if flow is not None and flow != self.flow:
            self.flow, self.data = flow, {}
        self.step = str(step)

    def end(self) -> None:
        """Leave the current flow; collected data is dropped."""
        self.flow, self.step, self.data = None, None, {}

    # --- answers ---------------------------------------------------------------
    def say(self, text: str, **kw: Any) -> None:
        """Send text (markup subset) with no buttons."""
        self.replies.append(Reply(text=text, **kw))

    def ask(self, text: str, options: Sequence[tuple[str, str]] = (), *, per_row: int = 1,
            extra: Sequence[Choice] = (), ask: Ask = Ask.NONE, ask_label: str = "",
            skip_label: str = "", cancel: str = "") -> None:
        """Ask with buttons; values are tagged with the step so old buttons go stale.

        ``extra`` holds action or link buttons ("!verb:arg", urls) that are not tagged.
        ``cancel`` is the value that "0" picks on numbered-text channels.
        """
        tag = step_tag(self.flow, self.step)
        items = [Choice(label, f"{tag}.{value}") for label, value in options]
        for c in items:
            if len(c.payload.encode()) > 64:
                raise ValueError(f"button payload over 64 bytes: {c.payload!r}")
        items.extend(extra)
        rows = tuple(tuple(items[i:i + per_row]) for i in range(0, len(items), per_row))
        self.data[MENU_KEY] = [[c.label, c.payload] for c in items if not c.url]
        cancel_payload = f"{tag}.{cancel}" if cancel else ""
        self.replies.append(Reply(text=text, choices=rows, ask=ask, ask_label=ask_label,
                                  skip_label=skip_label, cancel_payload=cancel_payload))

    def reply(self, reply: Reply) -> None:
        self.replies.append(reply)

    def has_command(self, name: str) -> bool:
        return self.commands is not None and self.commands.has(name)

    async def run_command(self, name: str, args: str = "") -> None:
        """Run a command by name as if the user had typed it."""
        await self.commands.run(self, name, args)

    def has_role(self, *roles: str) -> bool:
        return any(r in roles for r, _ in (self.roles or ()))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)
