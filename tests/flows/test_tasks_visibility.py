"""/viec lists only the cases the person may open: a "3 in 1" team member sees the team's
categories (support requests, petitions), never a crime tip's reference, category or age;
a village head sees none; officers see their areas; admins also the cases with no area."""

from __future__ import annotations

import re
from typing import Any

from tests.support.seed import add_staff, file_tip, harness, onboard, seed_world, texts

REF = re.compile(r"BY-\d\d-\d{6}")
NOT_ALLOWED = "không thuộc địa bàn"


def listed(out: list[Any]) -> list[str]:
    """The "REF · CODE · age" buttons of the /viec answer."""
    markup = out[-1].reply_markup or {}
    return [row[0]["text"] for row in markup.get("inline_keyboard", [])]


async def opens_every_listed_case(user: Any, out: list[Any]) -> None:
    markup = out[-1].reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        opened = texts(await user.press_payload(row[0]["callback_data"]))
        assert NOT_ALLOWED not in opened[-1] and REF.search(opened[-1]), opened


async def test_each_role_lists_only_what_it_may_open(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        team = await add_staff(h, 9501, "Mai Thị Thu", "team", w.commune_id)
        head = await add_staff(h, 9601, "Đinh Văn Tư", "village_head", w.village1_id)
        admin = await add_staff(h, 9701, "Lý Thị Hạnh", "admin", w.province_id)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        crime = await file_tip(u)
        support = await file_tip(u, "Cụ bà sống một mình ở số 12 cần người giúp",
                                 category="Đề nghị hỗ trợ")
        petition = await file_tip(u, "Đề nghị lắp thêm đèn đường ở hẻm 45", category="Khác")
        # An SOS from someone with no home area (and no [bot] province): no area at all.
        stranger = h.user(7_000_001, "Lan")
        await stranger.send("/sos")
        await stranger.send("Có người ngã xuống sông")
        sos_ref = REF.findall("\n".join(stranger.texts()))[-1]
        await h.deliver()

        out = await team.user.send("/viec")
        rows = listed(out)
        assert [REF.findall(r)[0] for r in rows] == [support, petition]
        assert "Có 2 tin đang mở" in (out[-1].text or "")
        assert not any(crime in t or "TOGIAC" in t for t in texts(out))
        await opens_every_listed_case(team.user, out)

        out = await head.user.send("/viec")
        assert listed(out) == [] and "Không có tin nào" in (out[-1].text or "")
        assert not any(crime in t for t in texts(out))

        out = await w.officer.user.send("/viec")
        assert [REF.findall(r)[0] for r in listed(out)] == [crime, support, petition]
        await opens_every_listed_case(w.officer.user, out)
        out = await w.other_officer.user.send("/viec")  # another commune
        assert listed(out) == []

        out = await admin.user.send("/viec")
        assert [REF.findall(r)[0] for r in listed(out)] == [crime, support, petition, sos_ref]
        await opens_every_listed_case(admin.user, out)
