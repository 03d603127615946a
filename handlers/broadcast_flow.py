"""The notice composer's router, steps and draft (shared by handlers/broadcast*.py).

The draft lives in ``ctx.data["draft"]`` as :class:`broadcasts.compose.Draft`'s dict.
"""

from __future__ import annotations

from enum import StrEnum

from broadcasts.compose import Draft
from handlers.context import Ctx
from handlers.router import Router

router = Router("broadcast")


class S(StrEnum):
    TEMPLATE = "template"
    TEXT = "text"
    AREAS = "areas"
    ROLES = "roles"
    WHEN = "when"
    AT = "at"
    WEEKDAY = "weekday"
    DAY = "day"
    TIME = "time"
    CRON = "cron"
    UNTIL = "until"
    PREVIEW = "preview"
    PHOTO = "photo"
    NOTE = "note"


def draft(ctx: Ctx) -> Draft:
    return Draft.from_dict(ctx.data.get("draft") or {})


def save(ctx: Ctx, d: Draft) -> None:
    ctx.data["draft"] = d.to_dict()


def mark(on: bool, label: str) -> str:
    """A toggle button's label."""
    return f"✅ {label}" if on else f"▫️ {label}"
