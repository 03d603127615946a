"""Driving the staff console and the open API over HTTP, as a browser or a client would.

    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        officer = await sign_in(h, w.officer.person_id)
        page = await officer.get("/console/cases")
        page = await officer.post("/console/cases/BY-26-000001/ack")

``Browser`` keeps cookies (the session), scrapes the CSRF token from every page it gets,
and sends it with every form unless told not to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.domain.messages import Inbound, Kind
from bot.services import api_keys, cases, categories, console_auth
from storage.tables import Case
from tests.support.harness import BotHarness

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __contains__(self, needle: str) -> bool:
        return needle in self.text


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def _page(self, resp: aiohttp.ClientResponse) -> Page:
        body = await resp.read()
        text = body.decode("utf-8", "replace")
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return Page(resp.status, text, str(resp.url), dict(resp.headers), body)

    async def get(self, path: str, **kw: Any) -> Page:
        async with self.session.get(self.base + path, **kw) as resp:
            return await self._page(resp)

    async def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True,
                   **kw: Any) -> Page:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        async with self.session.post(self.base + path, data=form, **kw) as resp:
            return await self._page(resp)

    def cookie(self, name: str = "binhyen_console") -> Any:
        for c in self.session.cookie_jar:
            if c.key == name:
                return c
        return None

    async def close(self) -> None:
        await self.session.close()


def base_url(h: BotHarness) -> str:
    return f"http://127.0.0.1:{h.config.web.port}"


async def link_token(h: BotHarness, person_id: int, minutes: int = 10) -> str:
    async with h.rt.deps.db.uow() as s:
        return await console_auth.issue_link(s, person_id, h.rt.deps.clock(),
                                             timedelta(minutes=minutes))


async def sign_in(h: BotHarness, person_id: int, browsers: list[Browser] | None = None
                  ) -> Browser:
    """Open a one-time link and press "Sign in"; the browser lands on the console."""
    b = Browser(base_url(h))
    if browsers is not None:
        browsers.append(b)
    token = await link_token(h, person_id)
    shown = await b.get(f"/console/login?token={token}")
    assert shown.status == 200, shown.text
    landed = await b.post("/console/login", {"token": token}, csrf=False)
    assert landed.status == 200 and "/console/" in landed.url, (landed.status, landed.text)
    return b


async def api_key(h: BotHarness, name: str = "tester") -> str:
    async with h.rt.deps.db.uow() as s:
        _key, plain = await api_keys.create(s, name, h.rt.deps.clock())
    return plain


async def make_case(h: BotHarness, *, area_id: int, created: datetime, category: str = "TOGIAC",
                    ack_after: timedelta | None = None, close_after: timedelta | None = None,
                    outcome: str = "resolved", rating: int | None = None,
                    publishable: bool = False, lat: float | None = None,
                    lon: float | None = None, description: str = "Người lạ đi lại nhiều lần",
                    place: str | None = "Hẻm 45 Lê Lợi", reporter_id: int | None = None,
                    kind: str = "tip") -> str:
    """A case straight through the case service, with chosen times (for figures)."""
    ev = Inbound(channel="telegram", chat_id="555000", user_id="555000", kind=Kind.TEXT)
    async with h.rt.deps.db.uow() as s:
        cat = await categories.get(s, category, None)
        assert cat is not None
        case: Case = await cases.create(
            s, kind=kind, category=cat, area_id=area_id, description=description, place=place,
            latitude=lat, longitude=lon, occurred=None, anonymous=True,
            reporter_id=reporter_id, ev=ev, photos=[], now=created)
        case.status = "routed"
        if ack_after is not None:
            case.acknowledged_at, case.status = created + ack_after, "acknowledged"
        if close_after is not None:
            case.closed_at, case.status, case.outcome = created + close_after, "closed", outcome
            case.rating = rating
        case.publishable = publishable
        return case.ref
