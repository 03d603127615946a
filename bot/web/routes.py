"""HTTP routes of the one aiohttp app: the web chat page, its socket, health, webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.channels.webchat import COOKIE, new_chat_id, valid_chat_id
from bot.config import Config
from bot.i18n import t

HERE = Path(__file__).parent
UI_KEYS = ("placeholder", "send", "photo", "location", "contact", "connecting", "offline",
           "reconnecting", "demo_as", "new_resident", "emergency_banner")


def templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                              autoescape=True)


class ChatPage:
    def __init__(self, config: Config, channel: Any,
                 demo_people: list[dict[str, str]]) -> None:
        self.config = config
        self.channel = channel
        self.demo_people = demo_people
        self.env = templates()

    async def page(self, request: web.Request) -> web.Response:
        """Serve the chat; the cookie names the visitor (a demo person in demo mode)."""
        lang = request.query.get("lang", self.config.bot.language)
        lang = lang if lang in ("vi", "en") else "vi"
        chat_id = request.cookies.get(COOKIE, "")
        as_key = request.query.get("as")
        demo_keys = {p["key"] for p in self.demo_people}
        if as_key is not None and self.config.bot.demo:
            chat_id = f"demo-{as_key}" if as_key in demo_keys else new_chat_id()
        elif not valid_chat_id(chat_id) or (chat_id.startswith("demo-")
                                            and not self.config.bot.demo):
            chat_id = new_chat_id()
        current = chat_id.removeprefix("demo-") if chat_id.startswith("demo-") else ""
        html = self.env.get_template("chat.html").render(
            lang=lang, title="Bình Yên", ws_url="/chat/ws", static="/static",
            start=request.query.get("start", "")[:64],
            demo_people=self.demo_people if self.config.bot.demo else [],
            current_as=current, t={k: t(lang, f"web.{k}") for k in UI_KEYS})
        resp = web.Response(text=html, content_type="text/html")
        secure = self.config.web.public_url.startswith("https://")
        resp.set_cookie(COOKIE, chat_id, max_age=365 * 86400, httponly=True,
                        samesite="Strict", secure=secure)
        return resp


def add_routes(app: web.Application, page: ChatPage) -> None:
    """The web chat (page and socket) when ``[web] webchat`` is on; ``/`` and ``/static``.

    With the web chat off, ``/`` leads to the console, whose stylesheet is in ``/static``.
    """
    home = "/chat" if page.config.web.webchat else "/console"

    async def to_home(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(home)

    app.router.add_get("/", to_home)
    if page.config.web.webchat:
        app.router.add_get("/chat", page.page)
        app.router.add_get("/chat/ws", page.channel.websocket)
    app.router.add_static("/static", HERE / "static")
