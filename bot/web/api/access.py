"""API keys on every /api/v1 call, and a token bucket per key.

The bucket lives in this process: with several web processes each allows the configured
rate, so the real ceiling is that times the number of processes (docs/console.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from aiohttp import web

from bot.services import api_keys
from bot.web.console.site import runtime

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status,
                             headers={**JSON_HEADERS, **headers})


@dataclass
class Buckets:
    """``rate`` tokens per second up to ``burst``; one token per request."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    state: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: int) -> float:
        """0 when allowed; otherwise the seconds until a token is free."""
        now = self.clock()
        tokens, last = self.state.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.state[key] = (tokens - 1, now)
            return 0.0
        self.state[key] = (tokens, now)
        return (1 - tokens) / self.rate


def presented_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("X-API-Key", "").strip()


def keyed(buckets: Buckets) -> Callable[[Handler], Handler]:
    """Wrap an API view: a valid, unrevoked key and a free token, or 401/429."""
    def deco(view: Handler) -> Handler:
        @wraps(view)
        async def handler(request: web.Request) -> web.StreamResponse:
            rt = runtime(request)
            plain = presented_key(request)
            async with rt.deps.db.uow() as db:
                key = await api_keys.authenticate(db, plain, rt.deps.clock()) if plain else None
                key_id = key.id if key else None
            if key_id is None:
                return error(401, "a valid API key is required (Authorization: Bearer …)",
                             **{"WWW-Authenticate": 'Bearer realm="binhyen"'})
            wait = buckets.take(key_id)
            if wait > 0:
                return error(429, "rate limit reached; retry later",
                             **{"Retry-After": str(max(1, round(wait + 0.5)))})
            return await view(request)
        return handler
    return deco


def ok(data: Any) -> web.Response:
    return web.json_response(data, headers=JSON_HEADERS)
