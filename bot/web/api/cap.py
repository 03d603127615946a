"""Published broadcasts as CAP 1.2 alerts: an Atom index at /cap/alerts.xml with each alert
embedded, and each alert alone at /cap/alerts/{id}.xml (the way alert hubs read them).

Element order and values follow the OASIS CAP 1.2 schema: identifier, sender, sent,
status, msgType, scope, then one info block per language with category, event, urgency,
severity, certainty, and an area with its areaDesc. Times carry an offset, never "Z".
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlparse
from xml.etree import ElementTree as ET

from aiohttp import web

from bot.config import Config
from bot.services import open_data
from bot.web.console.site import runtime

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
MIME = "application/cap+xml"
LANGS = {"vi": "vi-VN", "en": "en-US"}


def _t(moment: datetime, config: Config) -> str:
    return moment.astimezone(config.bot.tz).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str, ns: str = CAP) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}")
    el.text = text
    return el


def sender(base_url: str) -> str:
    """An identifier of the sender with no spaces, commas or < & (CAP 1.2 §3.2.1)."""
    host = urlparse(base_url).hostname or "localhost"
    return f"binhyen@{host}"


def alert(a: open_data.PublicAlert, config: Config, base_url: str) -> ET.Element:
    root = ET.Element(f"{{{CAP}}}alert")
    _sub(root, "identifier", f"{sender(base_url)}:broadcast:{a.id}".replace("@", "."))
    _sub(root, "sender", sender(base_url))
    _sub(root, "sent", _t(a.sent, config))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert")
    _sub(root, "scope", "Public")
    for lang, text in a.texts.items():
        info = ET.SubElement(root, f"{{{CAP}}}info")
        _sub(info, "language", LANGS[lang])
        _sub(info, "category", a.category)
        _sub(info, "event", a.event[lang])
        _sub(info, "urgency", "Immediate" if a.urgent else "Expected")
        _sub(info, "severity", "Severe" if a.urgent else "Minor")
        _sub(info, "certainty", "Likely" if a.urgent else "Possible")
        _sub(info, "effective", _t(a.sent, config))
        if a.expires is not None:
            _sub(info, "expires", _t(a.expires, config))
        _sub(info, "senderName", config.api.publisher or "Bình Yên")
        _sub(info, "headline", a.headlines.get(lang) or a.event[lang])
        _sub(info, "description", text)
        _sub(info, "web", f"{base_url}/cap/alerts/{a.id}.xml")
        area = ET.SubElement(info, f"{{{CAP}}}area")
        _sub(area, "areaDesc", "; ".join(label for _, label in a.areas) or "Việt Nam")
        for code, _label in a.areas:
            geo = ET.SubElement(area, f"{{{CAP}}}geocode")
            _sub(geo, "valueName", "VN-ADMIN-UNIT")
            _sub(geo, "value", code)
    return root


def _doc(el: ET.Element) -> bytes:
    ET.register_namespace("", CAP)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el, encoding="utf-8")


def feed(alerts: list[open_data.PublicAlert], config: Config, base_url: str,
         now: datetime) -> bytes:
    ET.register_namespace("", ATOM)
    ET.register_namespace("cap", CAP)
    root = ET.Element(f"{{{ATOM}}}feed")
    _sub(root, "id", f"{base_url}/cap/alerts.xml", ATOM)
    _sub(root, "title", f"Bình Yên — {config.api.publisher or 'Bình Yên'}", ATOM)
    _sub(root, "updated", _t(max((a.sent for a in alerts), default=now), config), ATOM)
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=f"{base_url}/cap/alerts.xml")
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    _sub(author, "name", config.api.publisher or "Bình Yên", ATOM)
    for a in alerts:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        _sub(entry, "id", f"{base_url}/cap/alerts/{a.id}.xml", ATOM)
        _sub(entry, "title", a.headlines.get("vi") or a.event["vi"], ATOM)
        _sub(entry, "updated", _t(a.sent, config), ATOM)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type=MIME,
                      href=f"{base_url}/cap/alerts/{a.id}.xml")
        content = ET.SubElement(entry, f"{{{ATOM}}}content", type=MIME)
        content.append(alert(a, config, base_url))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def add_routes(app: web.Application, config: Config) -> None:
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=60"}

    async def index(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        async with rt.deps.db.read() as db:
            alerts = await open_data.public_alerts(db, config)
        body = feed(alerts, config, rt.deps.links.web_url, rt.deps.clock())
        return web.Response(body=body, content_type="application/atom+xml", charset="utf-8",
                            headers=headers)

    async def one(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        bid = request.match_info["id"]
        async with rt.deps.db.read() as db:
            found = await open_data.public_alerts(db, config, int(bid)) if bid.isdigit() else []
        if not found:
            raise web.HTTPNotFound(text="no published alert with that id")
        return web.Response(body=_doc(alert(found[0], config, rt.deps.links.web_url)),
                            content_type=MIME, charset="utf-8", headers=headers)

    app.router.add_get("/cap/alerts.xml", index)
    app.router.add_get("/cap/alerts/{id}.xml", one)
