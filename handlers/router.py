"""Routers: one per feature, each naming its commands, steps and button actions.

A flow's steps are named (``Steps`` enums), never bare integers. The dispatcher in
``handlers.engine`` asks the routers in the order they are included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.text import fold

if TYPE_CHECKING:
    from handlers.context import Ctx

Handler = Callable[["Ctx"], Awaitable[None]]
# A reply to a bot message (Telegram's swipe-to-reply): True when it was taken as input to
# the case the quoted message names; ``free`` says the current step does not want it.
ReplyHandler = Callable[["Ctx", bool], Awaitable[bool]]


@dataclass
class Command:
    handler: Handler
    names: tuple[str, ...]
    staff_only: bool = False
    keeps_flow: bool = False  # e.g. /help answers without leaving the current flow
    groups: bool = False  # may be used inside a group chat
    menu_vi: str = ""
    menu_en: str = ""
    menu_name_en: str = ""  # the English menu's name when not the last one (/start, /sos)


@dataclass
class Router:
    """A feature's commands, flow steps (``flow`` + step name) and global actions."""

    flow: str
    commands: list[Command] = field(default_factory=list)
    steps: dict[str, Handler] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)  # "!verb" payload prefixes
    # Steps where a reply to a case message continues that case instead of answering the
    # step: steps that take no free text (buttons) and the case relay steps themselves.
    case_reply_steps: set[str] = field(default_factory=set)

    def command(self, *names: str, staff_only: bool = False, keeps_flow: bool = False,
                groups: bool = False, menu_vi: str = "", menu_en: str = "",
                menu_name_en: str = "") -> Callable[[Handler], Handler]:
        """Names: Vietnamese first, English last (the menus show those two)."""
        def deco(fn: Handler) -> Handler:
            self.commands.append(Command(fn, tuple(fold(n) for n in names), staff_only,
                                         keeps_flow, groups, menu_vi, menu_en,
                                         fold(menu_name_en)))
            return fn
        return deco

    def step(self, name: str, *, case_replies: bool = False) -> Callable[[Handler], Handler]:
        """``case_replies``: a reply to a case message here goes to that case (the step
        expects no free text); otherwise the step gets it, so a draft is never hijacked."""
        def deco(fn: Handler) -> Handler:
            self.steps[str(name)] = fn
            if case_replies:
                self.case_reply_steps.add(str(name))
            return fn
        return deco

    def action(self, verb: str) -> Callable[[Handler], Handler]:
        """Handle buttons whose payload is ``!verb:arg`` in any state (e.g. case actions)."""
        def deco(fn: Handler) -> Handler:
            self.actions[verb] = fn
            return fn
        return deco


@dataclass
class Routes:
    """All routers in their explicit order, indexed for the dispatcher."""

    routers: list[Router]
    fallback: Handler
    on_reply: ReplyHandler | None = None

    def __post_init__(self) -> None:
        self.by_command: dict[str, tuple[Router, Command]] = {}
        self.by_flow: dict[str, Router] = {}
        self.by_action: dict[str, Handler] = {}
        for r in self.routers:
            self.by_flow[r.flow] = r
            for c in r.commands:
                for n in c.names:
                    self.by_command.setdefault(n, (r, c))
            for verb, h in r.actions.items():
                self.by_action.setdefault(verb, h)

    def takes_case_reply(self, flow: str | None, step: str | None) -> bool:
        """True when no step is waiting for free text, so a reply may continue a case."""
        if not flow or not step:
            return True
        router = self.by_flow.get(flow)
        return router is not None and step in router.case_reply_steps

    def menu(self, language: str) -> list[tuple[str, str]]:
        """(command, description) pairs for a platform's command menu."""
        out = []
        for r in self.routers:
            for c in r.commands:
                label = c.menu_en if language == "en" else c.menu_vi
                if label:
                    name = (c.menu_name_en or c.names[-1]) if language == "en" else c.names[0]
                    out.append((name, label))
        return out
