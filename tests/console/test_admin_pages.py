"""Admins' pages: staff and invitations, villages, routing rules, group chats, and the audit
log — the same operations as the command line, through the same services, audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.services import groups, invites
from storage.repos import areas
from storage.tables import AuditEntry, GroupChat, RoutingRule
from tests.support.console import sign_in
from tests.support.seed import add_staff, harness, seed_world


async def test_people_areas_rules_groups_and_audit(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        admin = await add_staff(h, 9901, "Ngô Quản Trị", "admin", w.province_id)
        async with h.rt.deps.db.uow() as s:
            chat = await groups.joined(s, "telegram", "-1001", "Tổ dân phố 1 an toàn")
            chat_id = chat.id
        b = await sign_in(h, admin.person_id)
        try:
            people = await b.get("/console/people")
            assert "Trần Văn Bình" in people and "Đỗ Văn Khoa" in people
            bad = await b.post("/console/people/invite", {"role": "officer", "area": "nope"})
            assert "no area with code" in bad
            made = await b.post("/console/people/invite", {"role": "officer", "area": "20242",
                                                           "name": "Võ Thị Lan", "days": "3"})
            token = re.search(r"/start inv_([\w-]+)", made.text).group(1)
            assert "/chat?start=inv_" in made
            async with h.rt.deps.db.read() as s:
                inv, area = await invites.lookup(s, token, clock.now)
            assert inv.role == "officer" and area.code == "20242" and inv.name == "Võ Thị Lan"
            assert token not in await b.get("/console/people")  # shown once

            page = await b.get("/console/areas")
            assert "Tổ dân phố 1" in page and "Tổ dân phố 1 an toàn" in page
            added = await b.post("/console/areas/villages", {"parent": "20242",
                                                              "name": "Tổ dân phố 9"})
            assert "Đã thêm thôn" in added and "20242-3" in added
            dup = await b.post("/console/areas/villages", {"parent": "20242",
                                                            "name": "Tổ dân phố 9"})
            assert "already exists" in dup
            wrong = await b.post("/console/areas/rules", {
                "area": "20242", "category": "TOGIAC", "officer": str(w.other_officer.person_id)})
            assert "Quy tắc không hợp lệ" in wrong
            rule = await b.post("/console/areas/rules", {
                "area": "20242", "category": "TOGIAC", "officer": str(w.officer2.person_id),
                "backup": str(w.officer.person_id)})
            assert "Đã lưu quy tắc" in rule and "Lê Thị Cúc" in rule
            linked = await b.post(f"/console/areas/groups/{chat_id}/link", {"area": "20242-1"})
            assert "Đã gắn nhóm chat" in linked
            async with h.rt.deps.db.read() as s:
                [stored] = (await s.execute(select(RoutingRule))).scalars().all()
                group = await s.get(GroupChat, chat_id)
                village = await areas.by_code(s, "20242-1")
            assert (stored.officer_id, stored.backup_id) == (w.officer2.person_id,
                                                             w.officer.person_id)
            assert group.area_id == village.id and group.linked_by == admin.person_id
            removed = await b.post("/console/areas/rules/remove", {"area": "20242",
                                                                    "category": "TOGIAC"})
            assert "Đã xóa quy tắc" in removed

            log = await b.get("/console/audit?action=rule.")
            assert log.status == 200 and "<code>rule.set</code>" in log
            assert "<code>rule.remove</code>" in log and "<code>invite.create</code>" not in log
            mine = await b.get(f"/console/audit?actor={admin.person_id}")
            assert "<code>group.link</code>" in mine and "Ngô Quản Trị" in mine
            obj = await b.get("/console/audit?object=area:20242-3")
            assert "<code>area.add</code>" in obj
            dated = await b.get("/console/audit?from=2020-01-01&to=2020-01-02")
            assert "Không có mục nào" in dated
        finally:
            await b.close()
        async with h.rt.deps.db.read() as s:
            actors = dict((await s.execute(select(AuditEntry.action, AuditEntry.actor_id).where(
                AuditEntry.action.in_(("rule.set", "group.link"))))).all())
        assert actors == {"rule.set": admin.person_id, "group.link": admin.person_id}


async def test_an_admin_cannot_be_reached_by_other_roles(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        leader = await sign_in(h, w.leader.person_id)
        try:
            await leader.get("/console/cases")
            for path, data in (("/console/people/invite", {"role": "admin", "area": "48"}),
                               (f"/console/people/{w.officer.person_id}/revoke", {}),
                               ("/console/areas/villages", {"parent": "20242", "name": "X"}),
                               ("/console/areas/rules", {"area": "20242"})):
                assert (await leader.post(path, data)).status == 403, path
        finally:
            await leader.close()
