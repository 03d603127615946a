"""The console's shared pieces: templates, texts, the runtime, and one request's context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.config import Config
from bot.i18n import catalogue
from bot.i18n import t as translate
from bot.services.console_auth import Viewer
from bot.web.console import scope as scope_mod

if TYPE_CHECKING:
    from bot.app import Runtime

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
COOKIE = "binhyen_console"
# The page and its forms come only from here; no inline script, nothing from elsewhere.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store",
           "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY"}


def runtime(request: web.Request) -> Runtime:
    from bot.app import RUNTIME  # bot.app imports this package to add its routes
    return request.app[RUNTIME]


class Site:
    """Built once per app: the template environment and the configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                      autoescape=True, trim_blocks=True, lstrip_blocks=True)

    def page(self, template: str, lang: str, status: int = 200, **ctx: Any) -> web.Response:
        tz = self.config.bot.tz

        def local(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
            return moment.astimezone(tz).strftime(fmt) if moment else "—"

        def ago(moment: datetime | None, now: datetime) -> str:
            if moment is None:
                return "—"
            minutes = max(int((now - moment).total_seconds() // 60), 0)
            d, h, m = minutes // 1440, minutes % 1440 // 60, minutes % 60
            parts = [(d, "d"), (h, "h")] if d else [(h, "h"), (m, "m")] if h else [(m, "m")]
            return " ".join(f"{n} {translate(lang, f'console.unit.{u}')}" for n, u in parts)

        html = self.env.get_template(f"console/{template}").render(
            lang=lang, t=lambda key, **kw: translate(lang, key, **kw), local=local, ago=ago,
            **ctx)
        return web.Response(text=html, content_type="text/html", status=status,
                            headers=HEADERS)


@dataclass
class Req:
    """One console request by a signed-in staff member."""

    request: web.Request
    site: Site
    viewer: Viewer
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def rt(self) -> Runtime:
        return runtime(self.request)

    @property
    def now(self) -> datetime:
        return self.rt.deps.clock()

    @property
    def lang(self) -> str:
        return self.viewer.session.language if self.viewer.session.language in ("vi", "en") \
            else "vi"

    @property
    def roles(self) -> list[tuple[str, int]]:
        return self.viewer.roles

    @property
    def person_id(self) -> int:
        return self.viewer.person.id

    @property
    def is_admin(self) -> bool:
        return scope_mod.is_admin(self.roles)

    @property
    def config(self) -> Config:
        return self.site.config

    def t(self, key: str, **kw: Any) -> str:
        return translate(self.lang, key, **kw)

    def q(self, name: str, default: str = "") -> str:
        return self.request.query.get(name, default).strip()

    def render(self, template: str, *, section: str, status: int = 200,
               **ctx: Any) -> web.Response:
        return self.site.page(template, self.lang, status=status, viewer=self.viewer,
                              nav=scope_mod.nav(self.roles), section=section,
                              csrf=self.viewer.session.csrf, path=self.request.path_qs,
                              notice=self.notice(), **ctx)

    def notice(self) -> str:
        key = f"console.done.{self.q('done')}"
        return self.t(key) if key in catalogue("vi") else ""


def see_other(path: str, **query: str) -> web.HTTPSeeOther:
    """Redirect after a POST, optionally with ``done=…`` naming what happened."""
    clean = {k: v for k, v in query.items() if v}
    return web.HTTPSeeOther(path + ("?" + urlencode(clean) if clean else ""))
