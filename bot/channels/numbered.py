"""Replies as plain text with numbered choices, and typed answers back to choices.

For channels without buttons (Zalo, later SMS or an Official Account): a reply's choices
become "1. …", "2. …" lines (short ones share a line), links become "label: url", and
the reply's ``cancel_payload`` is offered as "0. …". The :class:`Menu` that was shown is
kept by the adapter so that "2", the label, or the label typed without accents picks the
same payload a button press would carry — also for notifications the engine never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.messages import Reply, to_plain
from bot.text import fold

CANCEL_WORDS = frozenset({"0", "huy", "cancel", "thoat"})
SHARED_LINE = 34  # two short choices share a line up to this many characters


@dataclass(frozen=True)
class Menu:
    """What a numbered reply offered: ``items[n - 1]`` is picked by typing ``n``."""

    items: tuple[tuple[str, str], ...] = ()  # (label, payload)
    cancel: str = ""  # the payload "0" picks ("" = none)
    cancel_label: str = ""

    def __bool__(self) -> bool:
        return bool(self.items or self.cancel)

    def to_dict(self) -> dict[str, object]:
        return {"items": [list(i) for i in self.items], "cancel": self.cancel,
                "cancel_label": self.cancel_label}

    @classmethod
    def from_dict(cls, d: dict) -> Menu:  # type: ignore[type-arg]
        items = tuple((str(i[0]), str(i[1])) for i in d.get("items", []) if len(i) == 2)
        return cls(items, str(d.get("cancel", "")), str(d.get("cancel_label", "")))


@dataclass(frozen=True)
class Rendered:
    text: str
    menu: Menu = field(default_factory=Menu)


def render(reply: Reply, cancel_label: str = "Hủy", note: str = "") -> Rendered:
    """The reply's text (markup stripped), an adapter's ``note``, then numbered choices."""
    lines: list[str] = []
    items: list[tuple[str, str]] = []
    zero = ""
    for row in reply.choices:
        cells: list[str] = []
        for c in row:
            if c.url:
                lines.append(f"{c.label}: {c.url}")
            elif reply.cancel_payload and c.payload == reply.cancel_payload:
                zero = c.label  # offered as "0." at the end, not numbered
            else:
                items.append((c.label, c.payload))
                cells.append(f"{len(items)}. {c.label}")
        lines.extend(_pack(cells))
    if reply.cancel_payload:
        zero = zero or cancel_label
        lines.append(f"0. {zero}")
    text = to_plain(reply.text).strip()
    if note:
        text = f"{text}\n{note}" if text else note
    if lines:
        text = f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
    return Rendered(text, Menu(tuple(items), reply.cancel_payload, zero))


def _pack(cells: list[str]) -> list[str]:
    """Pairs of short choices share a line so a menu fits on a phone screen."""
    out: list[str] = []
    for cell in cells:
        if out and len(out[-1]) + len(cell) + 3 <= SHARED_LINE and "   " not in out[-1]:
            out[-1] += "   " + cell
        else:
            out.append(cell)
    return out


def _key(label: str) -> str:
    """A label's matching key: folded, without leading emoji or punctuation."""
    folded = fold(label)
    i = 0
    while i < len(folded) and not folded[i].isalnum():
        i += 1
    return folded[i:].strip()


CANCEL = "\x00cancel"  # resolve(): the user cancelled and the menu has no cancel payload


def resolve(text: str, menu: Menu | None) -> str | None:
    """The payload ``text`` picks from ``menu``; :data:`CANCEL` for a bare cancel; or None."""
    typed = fold(text).strip(" .)")
    if not typed:
        return None
    items = menu.items if menu else ()
    if typed in CANCEL_WORDS:
        return (menu.cancel if menu and menu.cancel else CANCEL)
    if typed.isdigit():
        n = int(typed)
        return items[n - 1][1] if 1 <= n <= len(items) else None
    for label, payload in items:
        if typed in (fold(label), _key(label)):
            return payload
    if menu and menu.cancel_label and typed in (fold(menu.cancel_label), _key(menu.cancel_label)):
        return menu.cancel
    return None
