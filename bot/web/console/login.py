"""Signing in with a one-time link, signing out, and switching the language.

The link's GET only shows a "Sign in" button: chat apps fetch links for previews, and a
GET that used the token up would sign nobody in. The POST redeems it, sets the cookie
and redirects to the board (a same-site navigation, so the SameSite=Strict cookie
travels with it).
"""

from __future__ import annotations

from aiohttp import web

from bot.services import console_auth
from bot.web.console.guard import _lang, page, refuse
from bot.web.console.site import COOKIE, Req, Site, runtime, see_other

ERROR_STATUS = {"invalid": 404, "used": 410, "expired": 410, "not_staff": 403}


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == "null" or origin.split("://", 1)[-1] == request.host


def add_routes(app: web.Application, site: Site) -> None:
    async def show(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        token = request.query.get("token", "")
        async with rt.deps.db.read() as db:
            try:
                _link, person = await console_auth.check_link(db, token, rt.deps.clock())
            except console_auth.SigninError as exc:
                return refuse(site, request, f"console.auth.{exc.reason}",
                              ERROR_STATUS[exc.reason])
        lang = person.language if person.language in ("vi", "en") else _lang(request, site)
        return site.page("login.html", lang, token=token, name=person.display_name or "")

    async def sign_in(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        form = await request.post()
        token = str(form.get("token", ""))
        if not _same_origin(request):
            return refuse(site, request, "console.auth.csrf", 403)
        try:
            async with rt.deps.db.uow() as db:
                signin = await console_auth.redeem_link(db, token, rt.deps.clock(),
                                                        site.config.console.session_hours)
        except console_auth.SigninError as exc:
            return refuse(site, request, f"console.auth.{exc.reason}", ERROR_STATUS[exc.reason])
        resp = web.HTTPSeeOther("/console/")
        resp.set_cookie(COOKIE, signin.token, path="/",
                        max_age=int(site.config.console.session_hours * 3600), httponly=True,
                        samesite="Strict",
                        secure=site.config.web.public_url.startswith("https://"))
        raise resp

    @page(site, "any")
    async def sign_out(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.uow() as db:
            session = await db.merge(req.viewer.session)
            await console_auth.sign_out(db, session, req.now)
        resp = req.site.page("message.html", req.lang, key="console.auth.signed_out_done")
        resp.del_cookie(COOKIE, path="/")
        return resp

    @page(site, "any")
    async def language(req: Req) -> web.StreamResponse:
        lang = req.form.get("lang", "")
        if lang in ("vi", "en"):
            async with req.rt.deps.db.uow() as db:
                session = await db.merge(req.viewer.session)
                session.language = lang
        back = req.form.get("next", "/console/")
        raise see_other(back if back.startswith("/console/") else "/console/")

    app.router.add_get("/console/login", show)
    app.router.add_post("/console/login", sign_in)
    app.router.add_post("/console/logout", sign_out)
    app.router.add_post("/console/lang", language)
