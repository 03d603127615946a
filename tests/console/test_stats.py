"""The statistics page: every chart's numbers equal a direct query on the database, the
CSV and the API carry the same table, and the SVG charts need nothing from the internet."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import date, timedelta

from sqlalchemy import func, select

from storage.tables import Arrival, Broadcast, Case, Delivery, Guest
from tests.support.console import api_key, make_case, sign_in
from tests.support.seed import harness, seed_world


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def seed_figures(h, w) -> None:
    now = h.rt.deps.clock()
    d = timedelta(days=1)
    m = timedelta(minutes=1)
    await make_case(h, area_id=w.village1_id, created=now - 6 * d, ack_after=30 * m,
                    close_after=48 * 60 * m, rating=5)
    await make_case(h, area_id=w.village1_id, created=now - 6 * d + 60 * m, ack_after=90 * m)
    await make_case(h, area_id=w.village2_id, created=now - 3 * d, category="LUADAO",
                    ack_after=10 * m, close_after=300 * m, outcome="not_actionable", rating=2)
    await make_case(h, area_id=w.commune_id, created=now - d, category="TNXH")
    await make_case(h, area_id=w.village1_id, created=now - 5 * m, ack_after=5 * m)
    await make_case(h, area_id=w.village1_id, created=now - 10 * d, ack_after=m)  # too old
    await make_case(h, area_id=w.other_commune_id, created=now - d, ack_after=m)  # elsewhere
    async with h.rt.deps.db.uow() as s:
        for i, (days_ago, guests, on_time) in enumerate(((2, 2, True), (2, 1, False),
                                                         (0, 1, True))):
            at = now - days_ago * d
            a = Arrival(ref=f"LT-26-{i:06d}", area_id=w.village1_id, address="Số 5",
                        submitted_at=at, deadline_at=at + d, on_time=on_time)
            s.add(a)
            await s.flush()
            for g in range(guests):
                s.add(Guest(arrival_id=a.id, full_name=f"Khách {i}-{g}", id_cipher=b"x",
                            id_hash=f"h{i}{g}", id_last="00", key_id="k",
                            stay_from=date(2026, 11, 20)))
        b = Broadcast(template="scam", topic="lua_dao", body_vi="Cảnh giác lừa đảo",
                      status="sent", created_at=now - 2 * d)
        s.add(b)
        await s.flush()
        residents = [w.officer.person_id, w.officer2.person_id, w.leader.person_id,
                     w.other_officer.person_id]
        for n, (pid, state, err) in enumerate(((residents[0], "sent", None),
                                               (residents[1], "sent", None),
                                               (residents[2], "failed", "403: Forbidden"),
                                               (residents[3], "unreachable", "unreachable"))):
            s.add(Delivery(dedupe_key=f"b{n}", kind="broadcast", channel="telegram",
                           chat_id=str(n), person_id=pid, broadcast_id=b.id, payload={},
                           state=state, last_error=err, created_at=now - 2 * d,
                           sent_at=now - 2 * d if state == "sent" else None))


async def test_every_chart_equals_a_direct_query(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        await seed_figures(h, w)
        leader = await sign_in(h, w.leader.person_id)
        try:
            page = await leader.get("/console/stats")
            assert page.status == 200 and "Tin báo theo ngày và loại" in page
            tables = {}
            for name in ("tips_per_day", "tips_per_area", "response_times", "outcomes",
                         "ratings", "arrivals_per_day", "broadcast_reach"):
                got = await leader.get(f"/console/stats/{name}.csv?days=7")
                assert got.status == 200 and got.headers["Content-Type"].startswith("text/csv")
                tables[name] = rows_of(got.body)
            charts = {}
            for name in ("tips_per_day", "tips_per_area", "ack_times", "close_times",
                         "outcomes", "ratings", "arrivals_per_day", "broadcast_reach"):
                svg = await leader.get(f"/console/stats/{name}.svg?days=7")
                assert svg.status == 200 and svg.headers["Content-Type"] == "image/svg+xml"
                charts[name] = svg.text
        finally:
            await leader.close()

        start = clock.now.astimezone(h.config.bot.tz).replace(hour=0, minute=0, second=0,
                                                                microsecond=0) - timedelta(days=6)
        scope = (Case.area_id.in_([w.commune_id, w.village1_id, w.village2_id]),
                 Case.created_at >= start)
        async with h.rt.deps.db.read() as s:
            per_cat = dict((await s.execute(select(Case.category_code, func.count())
                                            .where(*scope).group_by(Case.category_code))).all())
            per_area = dict((await s.execute(select(Case.area_id, func.count())
                                             .where(*scope).group_by(Case.area_id))).all())
            closed = list((await s.execute(select(Case).where(
                Case.area_id.in_([w.commune_id, w.village1_id, w.village2_id]),
                Case.closed_at >= start))).scalars())
            acked = list((await s.execute(select(Case).where(
                *scope, Case.acknowledged_at.is_not(None)))).scalars())
            guests = (await s.execute(select(func.count()).select_from(Guest))).scalar_one()

        day = tables["tips_per_day"]
        assert len(day) == 8 and day[0][0] == "day" and day[0][-1] == "total"
        for code in day[0][1:-1]:
            col = day[0].index(code)
            assert sum(int(r[col]) for r in day[1:]) == per_cat[code]
        assert sum(int(r[-1]) for r in day[1:]) == sum(per_cat.values()) == 5
        assert {int(a): int(n) for a, n in tables["tips_per_area"][1:]} == per_area

        times = {r[0]: r for r in tables["response_times"][1:]}
        ack = [(c.acknowledged_at - c.created_at).total_seconds() / 60 for c in acked]
        q = statistics.quantiles(ack, n=10, method="inclusive")
        assert float(times["*"][3]) == round(statistics.median(ack), 1)
        assert float(times["*"][4]) == round(q[8], 1)
        assert int(times["*"][1]) == 5 and int(times["*"][2]) == len(ack) == 4
        assert dict((o, int(n)) for o, n in tables["outcomes"][1:]) == {
            c.outcome: 1 for c in closed}
        assert {int(s_): int(n) for s_, n in tables["ratings"][1:]} == {
            1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
        arr = tables["arrivals_per_day"]
        assert sum(int(r[1]) for r in arr[1:]) == 3 and sum(int(r[2]) for r in arr[1:]) == guests
        assert sum(int(r[3]) for r in arr[1:]) == 1
        # the leader's area: the fourth recipient lives in another commune
        assert tables["broadcast_reach"][1][2:7] == ["3", "2", "1", "0", "0"]

        for name, svg in charts.items():
            assert svg.lstrip().startswith(("<?xml", "<svg")), name
            assert "kozea.github.io" not in svg and "cdn" not in svg.lower()
            assert 'src="http' not in svg and "href=\"http" not in svg
        assert "LUADAO" in charts["tips_per_day"] or "Lừa đảo" in charts["tips_per_day"]


async def test_the_api_serves_the_same_tables(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        await seed_figures(h, w)
        key = await api_key(h)
        leader = await sign_in(h, w.leader.person_id)
        try:
            csv_rows = rows_of((await leader.get(
                "/console/stats/response_times.csv?days=7")).body)
            async with leader.session.get(
                    leader.base + "/api/v1/statistics?days=7&area=20242",
                    headers={"Authorization": f"Bearer {key}"}) as resp:
                assert resp.status == 200
                data = await resp.json()
        finally:
            await leader.close()
        api = data["tables"]["response_times"]
        assert api["columns"] == csv_rows[0]
        assert [[str(v) if v is not None else "" for v in row] for row in api["rows"]] == \
            csv_rows[1:]
        assert data["area"] == "20242" and data["days"] == 7
