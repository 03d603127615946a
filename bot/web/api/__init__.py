"""The open API (/api/v1, per-client keys) and the public feeds (Open311, CAP)."""

from __future__ import annotations

from aiohttp import web

from bot.config import Config


def add_api_routes(app: web.Application, config: Config) -> None:
    """Register /api/v1, /open311/v2 and /cap; they find the runtime per request."""
    from bot.web.api import cap, open311, v1
    from bot.web.api.access import Buckets

    buckets = Buckets(rate=config.api.rate_per_minute / 60, burst=config.api.burst)
    v1.add_routes(app, buckets)
    open311.add_routes(app, config)
    cap.add_routes(app, config)
