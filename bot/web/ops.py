"""Operations endpoints: /healthz (alive), /readyz (ready for traffic), /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from storage.db import SchemaOutdated


async def healthz(_request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.StreamResponse:
    """Database reachable, schema current, every configured channel reachable."""
    from bot.app import RUNTIME

    rt = request.app.get(RUNTIME)
    checks: dict[str, Any] = {}
    if rt is None:
        return web.json_response({"ok": False, "checks": {"runtime": "starting"}}, status=503)
    try:
        await asyncio.wait_for(rt.deps.db.check_schema(), 5)
        checks["database"] = "ok"
    except SchemaOutdated as exc:
        checks["database"] = str(exc)
    except Exception as exc:  # unreachable, timeout: report, never crash the probe
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if rt.telegram is not None:
        try:
            await asyncio.wait_for(rt.telegram.bot.get_me(), 5)
            checks["telegram"] = "ok"
        except Exception as exc:
            checks["telegram"] = f"unreachable: {type(exc).__name__}"
    if rt.zalo is not None:
        try:
            await asyncio.wait_for(rt.zalo.api.call("getMe"), 5)
            checks["zalo"] = "ok"
        except Exception as exc:
            checks["zalo"] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    from bot.app import RUNTIME

    rt = request.app[RUNTIME]
    await rt.metrics.refresh(rt.deps.db, rt.deps.clock())
    return web.Response(body=rt.metrics.render(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_ops_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
