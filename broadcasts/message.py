"""The exact message a recipient gets: one function for the preview and the fan-out.

A notice is its template rendered for the recipient's commune and language, marked
urgent when it is, and always ending with the one-line hint how to opt out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.domain.messages import Reply, to_plain
from bot.i18n import t
from broadcasts import templates
from broadcasts.audience import Scope, labels
from storage.repos import areas as area_repo

EMERGENCY = "113"


@dataclass(frozen=True)
class Notice:
    """The parts of a broadcast that shape its text (a draft or a stored row)."""

    template: str
    text_vi: str = ""
    text_en: str = ""
    note: str = ""
    urgent: bool = False
    photo_sha: str = ""
    expires: datetime | None = None

    def own_text(self, lang: str) -> str:
        return (self.text_en or self.text_vi) if lang == "en" else self.text_vi


def context(scope: Scope, key: int, at: datetime, tz: tzinfo, notice: Notice) -> dict[str, Any]:
    """Template variables for the recipients whose texts are keyed to area ``key``."""
    area = scope.keys[key]
    return {"area": labels(scope.targets.get(key) or [area]),
            "commune": area_repo.label(area),
            "hotline": area.hotline or EMERGENCY,
            "date": f"{at.astimezone(tz):%d/%m/%Y}",
            "expires": f"{notice.expires.astimezone(tz):%d/%m/%Y}" if notice.expires else "",
            "note": notice.note}


def text(notice: Notice, lang: str, values: dict[str, Any]) -> str:
    """The whole message text; raises :class:`templates.TemplateProblem`."""
    body = templates.render(notice.template, lang, values, notice.own_text(lang))
    if notice.urgent:
        body = f"{t(lang, 'bc.urgent_tag')}\n{body}"
    full = f"{body}\n\n{t(lang, 'bc.hint')}"
    if notice.photo_sha and len(to_plain(full)) > templates.CAPTION_LIMIT:
        raise templates.TemplateProblem(t(lang, "bc.caption_too_long", n=len(to_plain(full)),
                                          max=templates.CAPTION_LIMIT))
    return full


def payload(notice: Notice, lang: str, values: dict[str, Any]) -> dict[str, Any]:
    """The delivery payload (what the dispatcher sends) for one variant."""
    data = Reply(text=text(notice, lang, values)).to_dict()
    if notice.photo_sha:
        data["photo_sha"] = notice.photo_sha
    return data
