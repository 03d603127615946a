"""The routers in their explicit order: earlier routers win a shared command name."""

from __future__ import annotations

from handlers import (
    arrival,
    arrival_host,
    arrival_officer,
    broadcast,
    broadcast_manage,
    broadcast_review,
    case_reply,
    console,
    duty,
    group,
    invite,
    link,
    menu,
    mycases,
    officer,
    privacy,
    rules,
    settings,
    sos,
    start,
    subscriptions,
    tip,
)
from handlers.router import Routes


def build_routes() -> Routes:
    return Routes([start.router, invite.router, sos.router, tip.router, officer.router,
                   duty.router, mycases.router, rules.router, arrival.router,
                   arrival_host.router, arrival_officer.router, broadcast.router,
                   broadcast_review.router, broadcast_manage.router, subscriptions.router,
                   console.router, settings.router, privacy.router, link.router, group.router,
                   menu.router],
                  fallback=menu.fallback, on_reply=case_reply.on_reply)
