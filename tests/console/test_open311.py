"""The public Open311 GeoReport v2 feed, field by field against the specification
(wiki.open311.org/GeoReport_v2), in JSON and XML, with only what an admin published and
no personal data."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import aiohttp

from tests.support.console import base_url, make_case, sign_in
from tests.support.seed import add_staff, harness, seed_world

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
# Every field GeoReport v2 defines for a service request; we may use only a subset.
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url"}
REQUIRED = {"service_request_id", "status", "service_code", "service_name",
            "requested_datetime", "updated_datetime", "address"}
SECRET = ("Người lạ đi lại nhiều lần", "Hẻm 45 Lê Lợi", "Nguyễn Thị Hoa", "0912345678",
          "Trần Văn Bình", "binh_ca", "16.06781", "108.22083", "Nội dung riêng tư")


async def fetch(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def test_requests_feed_matches_georeport_v2_and_carries_no_personal_data(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        now = clock.now
        with_place = await make_case(h, area_id=w.village1_id, created=now - timedelta(days=2),
                                     lat=16.06781, lon=108.22083, publishable=True,
                                     ack_after=timedelta(minutes=20),
                                     close_after=timedelta(hours=5))
        plain = await make_case(h, area_id=w.commune_id, created=now - timedelta(hours=3),
                                category="LUADAO", publishable=True)
        hidden = await make_case(h, area_id=w.village1_id, created=now - timedelta(hours=1),
                                 description="Nội dung riêng tư")
        old = await make_case(h, area_id=w.village1_id, created=now - timedelta(days=120),
                              publishable=True)
        base = base_url(h) + "/open311/v2"

        status, ctype, text = await fetch(base + "/discovery.json")
        disc = json.loads(text)
        assert status == 200 and ctype.startswith("application/json")
        [endpoint] = disc["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"] == base and endpoint["type"] == "production"
        assert "application/json" in endpoint["formats"] and W3C.match(disc["changeset"])

        services = json.loads((await fetch(base + "/services.json"))[2])
        codes = {s["service_code"]: s for s in services}
        assert {"TOGIAC", "LUADAO"} <= set(codes)
        for s in services:
            assert s["metadata"] is False and s["type"] in ("realtime", "batch", "blackbox")
            assert set(s) == {"service_code", "service_name", "description", "metadata",
                              "type", "keywords", "group"}
        assert codes["TOGIAC"]["service_name"] == "Tố giác tội phạm"
        en = json.loads((await fetch(base + "/services.json?locale=en"))[2])
        assert {s["service_code"]: s["service_name"] for s in en}["TOGIAC"] == "Crime report"

        status, ctype, text = await fetch(base + "/requests.json")
        assert status == 200 and ctype.startswith("application/json")
        requests = json.loads(text)
        assert [r["service_request_id"] for r in requests] == [plain, with_place]  # newest first
        for r in requests:
            assert set(r) <= REQUEST_FIELDS and set(r) >= REQUIRED
            assert r["status"] in ("open", "closed")
            assert W3C.match(r["requested_datetime"]) and W3C.match(r["updated_datetime"])
            assert datetime.fromisoformat(r["updated_datetime"]) >= datetime.fromisoformat(
                r["requested_datetime"])
            assert r["service_name"] == codes[r["service_code"]]["service_name"]
            assert "description" not in r and "media_url" not in r
        first, second = requests[1], requests[0]
        assert first["status"] == "closed" and first["service_code"] == "TOGIAC"
        assert first["address"] == "Tổ dân phố 1, Phường Hải Châu, Thành phố Đà Nẵng"
        assert (first["lat"], first["long"]) == (16.068, 108.221)  # about 100 m, not a door
        assert first["requested_datetime"].endswith("+07:00")
        assert datetime.fromisoformat(first["updated_datetime"]) == (
            now - timedelta(days=2) + timedelta(hours=5)).replace(microsecond=0)
        assert second["status"] == "open" and "lat" not in second and "long" not in second
        assert second["address"] == "Phường Hải Châu, Thành phố Đà Nẵng"
        assert hidden not in text and old not in text
        for piece in SECRET:
            assert piece not in text

        one = json.loads((await fetch(f"{base}/requests/{with_place}.json"))[2])
        assert one == [first]
        status, _, missing = await fetch(f"{base}/requests/{hidden}.json")
        assert status == 404 and json.loads(missing)[0]["code"] == 404
        closed = json.loads((await fetch(base + "/requests.json?status=closed"))[2])
        assert [r["service_request_id"] for r in closed] == [with_place]
        by_code = json.loads((await fetch(base + "/requests.json?service_code=LUADAO"))[2])
        assert [r["service_request_id"] for r in by_code] == [plain]
        ids = json.loads((await fetch(
            f"{base}/requests.json?service_request_id={old},{plain}"))[2])
        assert {r["service_request_id"] for r in ids} == {old, plain}
        start = (now - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ranged = json.loads((await fetch(f"{base}/requests.json?start_date={start}"))[2])
        assert old in {r["service_request_id"] for r in ranged}
        local = (now - timedelta(days=200)).astimezone(h.config.bot.tz).isoformat()
        ranged = json.loads((await fetch(f"{base}/requests.json?start_date={local}"))[2])
        assert old in {r["service_request_id"] for r in ranged}  # "+07:00" sent unencoded
        status, _, bad = await fetch(base + "/requests.json?start_date=yesterday")
        assert status == 400 and json.loads(bad)[0]["code"] == 400

        status, ctype, xml = await fetch(base + "/requests.xml")
        assert status == 200 and ctype.startswith("text/xml")
        root = ET.fromstring(xml)
        assert root.tag == "service_requests"
        got = [{c.tag: c.text for c in req} for req in root.findall("request")]
        assert [g["service_request_id"] for g in got] == [plain, with_place]
        assert got[1]["lat"] == "16.068" and got[1]["status"] == "closed"
        assert ET.fromstring((await fetch(base + "/services.xml"))[2]).tag == "services"
        assert ET.fromstring((await fetch(base + "/discovery.xml"))[2]).tag == "discovery"
        for piece in SECRET:
            assert piece not in xml


async def test_only_admins_publish_a_case(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        admin = await add_staff(h, 9901, "Ngô Quản Trị", "admin", w.province_id)
        ref = await make_case(h, area_id=w.village1_id, created=clock.now)
        feed = base_url(h) + "/open311/v2/requests.json"
        assert ref not in (await fetch(feed))[2]
        b = await sign_in(h, admin.person_id)
        try:
            page = await b.get(f"/console/cases/{ref}")
            assert "chỉ loại tin, trạng thái, địa bàn và thời gian" in page
            done = await b.post(f"/console/cases/{ref}/publish", {"publishable": "1"})
            assert "Tin đã được công khai" in done
            assert ref in (await fetch(feed))[2]
            await b.post(f"/console/cases/{ref}/publish", {"publishable": "0"})
            assert ref not in (await fetch(feed))[2]
        finally:
            await b.close()
