"""The CAP 1.2 feed of published notices: every element and value CAP 1.2 requires, in
the schema's order, read back by an independent CAP parser from PyPI (cap-tools, xsdata
bindings of the OASIS schema), and free of personal data."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree as ET

import aiohttp
import pytest

from broadcasts import compose
from storage.tables import Broadcast
from tests.flows.arrival_steps import add_host
from tests.support.console import base_url, sign_in
from tests.support.seed import harness, seed_world

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")  # no "Z" (CAP 1.2)
ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source", "scope",
               "restriction", "addresses", "code", "note", "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity",
              "certainty", "audience", "eventCode", "effective", "onset", "expires",
              "senderName", "headline", "description", "instruction", "web", "contact",
              "parameter", "resource", "area"]
AREA_ORDER = ["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"]
VALUES = {"status": {"Actual", "Exercise", "System", "Test", "Draft"},
          "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
          "scope": {"Public", "Restricted", "Private"},
          "category": {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                       "Transport", "Infra", "CBRNE", "Other"},
          "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
          "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
          "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}}
PERSONAL = ("Phạm Minh Đức", "Trần Văn Bình", "Cư Dân", "duc_truongcaphuong", "5001")


def in_order(children: list[str], order: list[str]) -> bool:
    positions = [order.index(c) for c in children]
    return positions == sorted(positions)


def check_alert(alert: ET.Element) -> dict[str, str]:
    """Every element and value CAP 1.2 requires; returns the alert's top-level texts."""
    assert alert.tag == f"{CAP}alert"
    names = [c.tag.removeprefix(CAP) for c in alert]
    assert in_order(names, ALERT_ORDER), names
    top = {c.tag.removeprefix(CAP): (c.text or "") for c in alert if c.tag != f"{CAP}info"}
    for required in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert top.get(required), required
    for field in ("identifier", "sender"):
        assert not re.search(r"[\s,<&]", top[field]), top[field]
    assert DATETIME.match(top["sent"]), top["sent"]
    for field in ("status", "msgType", "scope"):
        assert top[field] in VALUES[field]
    infos = alert.findall(f"{CAP}info")
    assert infos
    for info in infos:
        names = [c.tag.removeprefix(CAP) for c in info]
        assert in_order(names, INFO_ORDER), names
        texts = {n: (info.find(f"{CAP}{n}").text or "") for n in set(names) - {"area"}}
        for required in ("category", "event", "urgency", "severity", "certainty"):
            assert texts.get(required), required
            if required in VALUES:
                assert texts[required] in VALUES[required]
        assert re.match(r"^[a-z]{2}(-[A-Z]{2})?$", texts["language"])
        for moment in ("effective", "onset", "expires"):
            if moment in texts:
                assert DATETIME.match(texts[moment]), texts[moment]
        assert len(texts.get("headline", "")) <= 160
        areas = info.findall(f"{CAP}area")
        assert areas
        for area in areas:
            assert in_order([c.tag.removeprefix(CAP) for c in area], AREA_ORDER)
            assert (area.find(f"{CAP}areaDesc").text or "").strip()
            for geo in area.findall(f"{CAP}geocode"):
                assert geo.find(f"{CAP}valueName").text and geo.find(f"{CAP}value").text
    return top


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def notice(h, w, draft: compose.Draft, *, publishable: bool) -> int:
    async with h.rt.deps.db.uow() as s:
        roles = [("leader", w.commune_id)]
        bc = await compose.create(s, draft, author_id=w.leader.person_id, roles=roles,
                                  config=h.config, now=h.rt.deps.clock(), actor_label="test")
        bc.publishable = publishable
        return bc.id


async def test_published_notices_form_a_valid_cap_feed(make_config, sqlite_url, clock):
    parser_mod = pytest.importorskip("xsdata.formats.dataclass.parsers")
    config_mod = pytest.importorskip("xsdata.formats.dataclass.parsers.config")
    models = pytest.importorskip("cap_tools.models")
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        for i in range(2):
            await add_host(h, 5001 + i, f"Cư Dân {i}", w.village1_id)
        urgent = await notice(h, w, compose.Draft(template="scams", areas=[w.village1_id],
                                                  urgent=True), publishable=True)
        own = await notice(h, w, compose.Draft(
            template="notice", text_vi="Tạm ngừng cấp nước khu phố 1 sáng mai, 7–11 giờ.",
            areas=[w.commune_id], expires="2026-11-30"), publishable=True)
        quiet = await notice(h, w, compose.Draft(template="fire", areas=[w.village1_id]),
                             publishable=False)
        dropped = await notice(h, w, compose.Draft(template="traffic", areas=[w.village1_id],
                                                   schedule={"kind": "daily", "time": "08:00"}),
                               publishable=True)
        async with h.rt.deps.db.uow() as s:
            (await s.get(Broadcast, dropped)).status = "cancelled"
        await h.tick()
        await h.deliver()
        clock.advance(minutes=2)
        await h.tick()

        status, ctype, body = await fetch(base_url(h) + "/cap/alerts.xml")
        assert status == 200 and ctype.startswith("application/atom+xml")
        feed = ET.fromstring(body)
        assert feed.tag == f"{ATOM}feed" and feed.find(f"{ATOM}updated").text
        entries = feed.findall(f"{ATOM}entry")
        assert len(entries) == 2
        parser = parser_mod.XmlParser(config=config_mod.ParserConfig(
            fail_on_unknown_properties=True, fail_on_converter_warnings=True))
        seen = {}
        for entry in entries:
            [embedded] = list(entry.find(f"{ATOM}content"))
            top = check_alert(embedded)
            link = entry.find(f"{ATOM}link[@rel='alternate']")
            assert link.get("type") == "application/cap+xml"
            status, ctype, single = await fetch(link.get("href"))
            assert status == 200 and ctype.startswith("application/cap+xml")
            assert single.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
            alone = ET.fromstring(single)
            assert check_alert(alone) == top
            parsed = parser.from_bytes(single, models.Alert)
            assert parsed.identifier == top["identifier"] and parsed.sender == top["sender"]
            assert parsed.status == models.Status.ACTUAL
            assert parsed.msg_type == models.MsgType.ALERT
            assert parsed.scope == models.Scope.PUBLIC
            assert parsed.sent.to_datetime().isoformat() == top["sent"]
            seen[int(link.get("href").rsplit("/", 1)[1].removesuffix(".xml"))] = parsed
            for piece in PERSONAL:
                assert piece.encode() not in single
        assert set(seen) == {urgent, own} and quiet not in seen and dropped not in seen

        scams = seen[urgent]
        assert [i.language for i in scams.infos] == ["vi-VN", "en-US"]
        vi, en = scams.infos
        assert vi.categories == [models.Category.SECURITY]
        assert vi.urgency == models.Urgency.IMMEDIATE and vi.severity == models.Severity.SEVERE
        assert vi.event == "Lừa đảo qua điện thoại, mạng" and en.event == "Phone and online scams"
        assert "Phường Hải Châu" in vi.description and "<b>" not in vi.description
        assert vi.areas[0].area_desc == "Tổ dân phố 1, Phường Hải Châu, Thành phố Đà Nẵng"
        assert vi.areas[0].geocodes[0].value.value == "20242-1"
        water = seen[own]
        assert [i.language for i in water.infos] == ["vi-VN"]  # no English text was given
        [info] = water.infos
        assert info.urgency == models.Urgency.EXPECTED and info.severity == models.Severity.MINOR
        assert "Tạm ngừng cấp nước" in info.headline
        assert info.expires.to_datetime().date().isoformat() == "2026-11-30"
        assert info.effective.to_datetime() <= water.sent.to_datetime() + timedelta(seconds=1)
        assert (await fetch(f"{base_url(h)}/cap/alerts/{quiet}.xml"))[0] == 404


async def test_a_leader_publishes_a_notice_from_the_console(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        bid = await notice(h, w, compose.Draft(template="fire", areas=[w.village1_id]),
                           publishable=False)
        assert b"<entry" not in (await fetch(base_url(h) + "/cap/alerts.xml"))[2]
        leader = await sign_in(h, w.leader.person_id)
        try:
            page = await leader.get(f"/console/broadcasts/{bid}")
            assert "Công khai trên nguồn CAP" in page
            await leader.post(f"/console/broadcasts/{bid}/publish", {"publishable": "1"})
        finally:
            await leader.close()
        feed = ET.fromstring((await fetch(base_url(h) + "/cap/alerts.xml"))[2])
        [entry] = feed.findall(f"{ATOM}entry")
        check_alert(next(iter(entry.find(f"{ATOM}content"))))
