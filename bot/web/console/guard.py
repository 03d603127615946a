"""Every console page goes through here: session, roles, and CSRF on every POST.

The session cookie names a server-side session (:mod:`bot.services.console_auth`), looked
up on each request, so a revoked staff member is out at once. Forms carry the session's
CSRF token in a hidden field; a POST without the right one is refused before the view
runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from bot.services import console_auth
from bot.web.console import scope
from bot.web.console.site import COOKIE, Req, Site, runtime

View = Callable[[Req], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FIELD = 10_000


def _lang(request: web.Request, site: Site) -> str:
    lang = request.query.get("lang", "")
    if lang in ("vi", "en"):
        return lang
    accept = request.headers.get("Accept-Language", "")
    return "en" if accept.lower().startswith("en") else site.config.bot.language


def refuse(site: Site, request: web.Request, key: str, status: int) -> web.Response:
    """A page that says plainly why (signed out, not allowed, bad form), in the right status."""
    return site.page("message.html", _lang(request, site), status=status, key=key)


def page(site: Site, section: str) -> Callable[[View], Handler]:
    """Wrap a view: sign-in required, the page's roles required, CSRF checked on POST."""
    roles_needed = scope.PAGES.get(section)

    def deco(view: View) -> Handler:
        @wraps(view)
        async def handler(request: web.Request) -> web.StreamResponse:
            rt = runtime(request)
            async with rt.deps.db.uow() as db:
                viewer = await console_auth.current(db, request.cookies.get(COOKIE, ""),
                                                    rt.deps.clock())
                if viewer is not None:
                    db.expunge_all()
            if viewer is None:
                return refuse(site, request, "console.auth.signed_out", 401)
            if roles_needed is not None and not any(r in roles_needed for r, _ in viewer.roles):
                return refuse(site, request, "console.auth.forbidden", 403)
            form: dict[str, str] = {}
            if request.method == "POST":
                posted = await request.post()
                form = {k: str(v)[:MAX_FIELD] for k, v in posted.items()
                        if isinstance(v, str)}
                if not hmac.compare_digest(form.get("csrf", ""), viewer.session.csrf):
                    return refuse(site, request, "console.auth.csrf", 403)
            return await view(Req(request, site, viewer, form))
        return handler
    return deco
