"""Which role opens which console page, and which cases each one sees: the same roles and
areas as in chat (an officer their areas and below, a village head their village, an
admin everything)."""

from __future__ import annotations

import pytest

from tests.support.console import Browser, make_case, sign_in
from tests.support.seed import add_staff, harness, seed_world

PAGES = ("cases", "arrivals", "broadcasts", "stats", "people", "areas", "audit")
ALLOWED = {
    "officer": {"cases", "arrivals", "broadcasts", "stats"},
    "leader": {"cases", "arrivals", "broadcasts", "stats"},
    "province_leader": {"cases", "arrivals", "broadcasts", "stats"},
    "village_head": {"arrivals", "stats"},
    "team": {"cases"},
    "admin": set(PAGES),
}


@pytest.fixture
async def world(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        w.staff["village_head"] = await add_staff(h, 9401, "Lê Thị Hoa", "village_head",
                                                  w.village1_id)
        w.staff["team"] = await add_staff(h, 9501, "Hồ Văn Tổ", "team", w.commune_id)
        w.staff["admin"] = await add_staff(h, 9901, "Ngô Quản Trị", "admin", w.province_id)
        browsers: list[Browser] = []
        try:
            yield h, w, browsers
        finally:
            for b in browsers:
                await b.close()


async def test_each_role_opens_its_pages_and_is_refused_the_others(world):
    h, w, browsers = world
    for role, allowed in ALLOWED.items():
        b = await sign_in(h, w.staff[role].person_id, browsers)
        home = await b.get("/console/")
        assert home.status == 200, (role, home.text[:300])
        for name in PAGES:
            page = await b.get(f"/console/{name}")
            expected = 200 if name in allowed else 403
            assert page.status == expected, (role, name, page.status, page.text[:300])
            if expected == 403:
                assert "không có quyền" in page
        nav = {p for p in PAGES if f'href="/console/{p}"' in home.text}
        assert nav == allowed, role
    anonymous = Browser(browsers[0].base)
    browsers.append(anonymous)
    for name in PAGES:
        assert (await anonymous.get(f"/console/{name}")).status == 401
    assert (await anonymous.post("/console/cases/BY-26-000001/ack")).status == 401


async def test_cases_are_scoped_like_in_chat(world):
    h, w, browsers = world
    now = h.rt.deps.clock()
    mine = await make_case(h, area_id=w.village1_id, created=now)
    other = await make_case(h, area_id=w.other_commune_id, created=now)
    support = await make_case(h, area_id=w.commune_id, created=now, category="HOTRO")

    officer = await sign_in(h, w.officer.person_id, browsers)
    board = await officer.get("/console/cases")
    assert mine in board and support in board and other not in board
    assert (await officer.get(f"/console/cases/{other}")).status == 404
    refused = await officer.post(f"/console/cases/{other}/ack")
    assert refused.status == 403

    far = await sign_in(h, w.other_officer.person_id, browsers)
    board = await far.get("/console/cases")
    assert other in board and mine not in board

    team = await sign_in(h, w.team.person_id, browsers)
    board = await team.get("/console/cases")
    assert support in board and mine not in board and other not in board

    city = await sign_in(h, w.province_leader.person_id, browsers)
    board = await city.get("/console/cases")
    assert all(ref in board for ref in (mine, other, support))

    admin = await sign_in(h, w.admin.person_id, browsers)
    page = await admin.get(f"/console/cases/{other}")
    assert page.status == 200 and "Công khai tin này" in page
    assert "Công khai tin này" not in await officer.get(f"/console/cases/{mine}")
    assert (await officer.post(f"/console/cases/{mine}/publish",
                               {"publishable": "1"})).status == 403
