"""A read-only Open311 GeoReport v2 endpoint (as FixMyStreet offers one), public, with only
the cases an admin published and only their category, status, area and dates.

    /open311/v2/discovery.{json,xml}   /open311/v2/services.{json,xml}
    /open311/v2/requests.{json,xml}    /open311/v2/requests/{id}.{json,xml}
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web

from bot.config import Config
from bot.services import open_data
from bot.web.console import labels
from bot.web.console.site import runtime

SPEC = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
DEFAULT_DAYS = 90  # GeoReport v2: without dates, the last 90 days
CHANGESET = "2026-01-01T00:00:00+07:00"  # when this endpoint last changed shape


def _w3c(moment: datetime, config: Config) -> str:
    return moment.astimezone(config.bot.tz).replace(microsecond=0).isoformat()


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item)
        for k, v in row.items():
            if isinstance(v, list):
                sub = ET.SubElement(el, k)
                for x in v:
                    ET.SubElement(sub, "format" if k == "formats" else "item").text = str(x)
            else:
                ET.SubElement(el, k).text = "" if v is None else str(v).lower() \
                    if isinstance(v, bool) else str(v)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def _answer(fmt: str, root: str, item: str, rows: list[dict[str, Any]],
            status: int = 200) -> web.Response:
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=60"}
    if fmt == "xml":
        return web.Response(body=_xml(root, item, rows), status=status,
                            content_type="text/xml", charset="utf-8", headers=headers)
    return web.json_response(rows, status=status, headers=headers)


def _fail(fmt: str, code: int, text: str) -> web.Response:
    return _answer(fmt, "errors", "error", [{"code": code, "description": text}], code)


def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    raw = raw.strip().replace("Z", "+00:00")
    if re.search(r"T[\d:.]+ \d\d:\d\d$", raw):  # an unencoded "+" arrives as a space
        raw = raw[:-6] + "+" + raw[-5:]
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise ValueError("a time zone is required")
    return moment


def _fmt(request: web.Request) -> str:
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise web.HTTPNotFound()
    return fmt


def _split(raw: str | None) -> list[str]:
    return [x.strip() for x in (raw or "").split(",") if x.strip()]


def add_routes(app: web.Application, config: Config) -> None:
    def row(c: open_data.PublicCase, names: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "service_request_id": c.ref, "status": c.status, "service_code": c.category,
            "service_name": names.get(c.category, c.category),
            "requested_datetime": _w3c(c.requested, config),
            "updated_datetime": _w3c(c.updated, config), "address": c.area}
        if c.lat is not None and c.long is not None:
            out |= {"lat": c.lat, "long": c.long}
        return out

    async def discovery(request: web.Request) -> web.StreamResponse:
        fmt, rt = _fmt(request), runtime(request)
        base = f"{rt.deps.links.web_url}/open311/v2"
        endpoints: list[dict[str, Any]] = [{
            "specification": SPEC, "url": base, "changeset": CHANGESET, "type": "production",
            "formats": list(FORMATS.values())}]
        doc = {"changeset": CHANGESET, "contact": config.api.contact, "key_service": "",
               "endpoints": endpoints}
        if fmt == "xml":
            return _answer("xml", "discovery", "endpoint", endpoints)
        return web.json_response(doc, headers={"Access-Control-Allow-Origin": "*"})

    async def services(request: web.Request) -> web.StreamResponse:
        fmt, rt = _fmt(request), runtime(request)
        lang = "en" if request.query.get("locale", "").startswith("en") else "vi"
        async with rt.deps.db.read() as db:
            cats = await labels.category_list(db)
        return _answer(fmt, "services", "service", [{
            "service_code": c.code, "service_name": c.name_en if lang == "en" else c.name_vi,
            "description": c.name_en if lang == "en" else c.name_vi, "metadata": False,
            "type": "realtime", "keywords": "", "group": ""} for c in cats])

    async def requests(request: web.Request) -> web.StreamResponse:
        fmt, rt = _fmt(request), runtime(request)
        q, now = request.query, rt.deps.clock()
        try:
            start, end = _date(q.get("start_date")), _date(q.get("end_date"))
        except ValueError:
            return _fail(fmt, 400, "start_date and end_date must be W3C date-times")
        one = request.match_info.get("id")
        end = end or now
        start = start or end - timedelta(days=DEFAULT_DAYS)
        lang = "en" if q.get("locale", "").startswith("en") else "vi"
        async with rt.deps.db.read() as db:
            found = await open_data.public_cases(
                db, start=start, end=end, refs=[one] if one else _split(
                    q.get("service_request_id")), codes=_split(q.get("service_code")),
                statuses=_split(q.get("status")))
            names = await labels.category_names(db, lang)
        if one and not found:
            return _fail(fmt, 404, "no published service request with that id")
        return _answer(fmt, "service_requests", "request", [row(c, names) for c in found])

    app.router.add_get("/open311/v2/discovery.{fmt}", discovery)
    app.router.add_get("/open311/v2/services.{fmt}", services)
    app.router.add_get("/open311/v2/requests.{fmt}", requests)
    app.router.add_get("/open311/v2/requests/{id}.{fmt}", requests)
