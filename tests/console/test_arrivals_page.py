"""Guests in the console: current guests by village with their deadline status, masked ID
numbers, showing a number only by an explicit and audited POST (officers of the area),
acknowledging, and the export through the declarations feature's own service."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from storage.tables import AuditEntry
from tests.flows.arrival_steps import (
    AN,
    AN_ID,
    BICH,
    BICH_ID,
    arrival_harness,
    arrival_world,
    declare,
)
from tests.support.console import sign_in


async def test_guests_masked_reveal_audited_ack_and_export(make_config, sqlite_url, clock):
    async with arrival_harness(make_config, sqlite_url, clock) as h:
        aw = await arrival_world(h)
        await declare(aw.host, [AN, BICH])
        await aw.host.press("Gửi khai báo")
        await h.deliver()
        aw.host.inbox()
        officer = await sign_in(h, aw.w.officer.person_id)
        head = await sign_in(h, aw.head_id)
        far = await sign_in(h, aw.w.other_officer.person_id)
        try:
            page = await officer.get("/console/arrivals")
            assert page.status == 200 and "Nguyễn Văn An (1990)" in page and "Tổ dân phố 1" in page
            assert "0010******21" in page and AN_ID not in page and BICH_ID not in page
            assert "Đúng hạn" in page and "Xem số đầy đủ" in page
            guest_id = page.text.split("/console/arrivals/guests/")[1].split("/")[0]
            shown = await officer.post(f"/console/arrivals/guests/{guest_id}/reveal")
            assert shown.status == 200 and AN_ID in shown and BICH_ID not in shown
            assert AN_ID not in await officer.get("/console/arrivals")

            masked = await head.get("/console/arrivals")
            assert "Nguyễn Văn An" in masked and "Xem số đầy đủ" not in masked
            assert AN_ID not in masked and "Xuất danh sách" not in masked
            refused = await head.post(f"/console/arrivals/guests/{guest_id}/reveal")
            assert refused.status == 403 and AN_ID not in refused
            assert "Nguyễn Văn An" not in await far.get("/console/arrivals")

            arrival_id = re.search(r'action="/console/arrivals/(\d+)/ack"', page.text).group(1)
            acked = await officer.post(f"/console/arrivals/{arrival_id}/ack")
            assert "Đã tiếp nhận khai báo" in acked and "Đã tiếp nhận</span>" in acked
            await h.deliver()
            assert any("Đã tiếp nhận" in t for t in aw.host.texts())

            export = await officer.post("/console/arrivals/export", {
                "area": str(aw.w.commune_id), "start": "2026-11-01", "end": "2026-11-30",
                "fmt": "csv"})
            assert export.status == 200 and "attachment" in export.headers["Content-Disposition"]
            rows = list(csv.DictReader(io.StringIO(export.body.decode("utf-8-sig"))))
            assert sorted(r["Số định danh cá nhân / Số hộ chiếu"] for r in rows) == \
                sorted([AN_ID, BICH_ID])
            xlsx = await officer.post("/console/arrivals/export", {
                "area": str(aw.w.commune_id), "start": "2026-11-01", "end": "2026-11-30",
                "fmt": "xlsx"})
            assert xlsx.status == 200 and xlsx.body[:2] == b"PK"
            assert (await head.post("/console/arrivals/export", {
                "area": str(aw.w.village1_id), "start": "2026-11-01", "end": "2026-11-30",
                "fmt": "csv"})).status == 403
        finally:
            for b in (officer, head, far):
                await b.close()
        async with h.rt.deps.db.read() as s:
            entries = list((await s.execute(select(AuditEntry).where(AuditEntry.action.in_(
                ("arrival.show_id", "arrival.export", "arrival.ack"))).order_by(
                AuditEntry.id))).scalars())
        assert [e.action for e in entries] == ["arrival.show_id", "arrival.ack",
                                               "arrival.export", "arrival.export"]
        assert entries[0].actor_id == aw.w.officer.person_id
        assert AN_ID not in str([e.details for e in entries])
