"""The staff web console: server-rendered pages on the one aiohttp app (docs/console.md)."""

from __future__ import annotations

from aiohttp import web

from bot.config import Config


def add_console_routes(app: web.Application, config: Config) -> None:
    """Register every console page; they find the runtime per request."""
    from bot.web.console import (
        arrivals,
        audit_log,
        broadcast_compose,
        broadcast_forms,
        broadcasts,
        case_forms,
        cases,
        login,
        people,
        places,
        stats,
    )
    from bot.web.console.site import Site

    site = Site(config)
    # broadcast_compose first: /console/broadcasts/new before /console/broadcasts/{id}
    for module in (login, cases, case_forms, arrivals, broadcast_compose, broadcasts,
                   broadcast_forms, stats, people, places, audit_log):
        module.add_routes(app, site)
