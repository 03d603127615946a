"""Routing precedence (bot.services.routing.resolve) on SQLite and PostgreSQL, then the same
rules end to end over the fake Telegram server, and the leaders' /quytac command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import catalogue
from bot.services import areas as areas_svc
from bot.services import categories, routing
from storage.db import Database
from storage.repos import areas, people
from storage.tables import Area, AuditEntry, GroupChat, RoleGrant
from tests.support.seed import (
    VILLAGE_2,
    add_staff,
    audit_count,
    case_by_ref,
    file_tip,
    harness,
    invite_staff,
    onboard,
    seed_world,
    texts,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@dataclass
class Tree:
    province: Area
    commune: Area
    village: Area
    village2: Area
    other_commune: Area


async def tree(s: AsyncSession) -> Tree:
    await areas_svc.import_units(s, "48")
    await categories.ensure_defaults(s)
    v1 = await areas_svc.add_village(s, parent_code="20242", name="Tổ dân phố 1", type_=None,
                                     at=NOW)
    v2 = await areas_svc.add_village(s, parent_code="20242", name="Tổ dân phố 2", type_=None,
                                     at=NOW)
    found = [await areas.by_code(s, c) for c in ("48", "20242", "20209")]
    assert all(found)
    prov, commune, other = found
    return Tree(prov, commune, v1, v2, other)  # type: ignore[arg-type]


async def person(s: AsyncSession, name: str, role: str | None = None,
                 area: Area | None = None) -> int:
    p = await people.add_person(s, channel="telegram", user_id=name, chat_id=name,
                                language="vi", display_name=name)
    if role and area:
        await people.grant(s, p.id, role, area.id)
    return p.id


async def rule(s: AsyncSession, area: Area, category: str | None, officer: int | None,
               backup: int | None = None, group: int | None = None) -> None:
    await routing.set_rule(s, area=area, category=category, officer_id=officer,
                           backup_id=backup, group_chat_id=group, actor_id=None,
                           actor_label="test", at=NOW)


async def unrule(s: AsyncSession, area: Area, category: str | None) -> None:
    assert await routing.remove_rule(s, area=area, category=category, actor_id=None,
                                     actor_label="test", at=NOW)


# --- precedence, unit level on both backends -----------------------------------------------


async def test_precedence_from_village_rule_down_to_nobody(database: Database):
    async with database.uow() as s:
        t = await tree(s)
        ids = {n: await person(s, n) for n in ("village_rule", "commune_rule", "province_rule",
                                               "village_default", "commune_default")}
        officer_a = await person(s, "officer_a", "officer", t.commune)
        officer_b = await person(s, "officer_b", "officer", t.commune)
        leader = await person(s, "leader", "leader", t.commune)
        await rule(s, t.village, "TOGIAC", ids["village_rule"])
        await rule(s, t.commune, "TOGIAC", ids["commune_rule"])
        await rule(s, t.province, "TOGIAC", ids["province_rule"])
        await rule(s, t.village, None, ids["village_default"])
        await rule(s, t.commune, None, ids["commune_default"])

        async def who(area: Area = t.village, category: str = "TOGIAC") -> tuple[int | None,
                                                                                 str]:
            target = await routing.resolve(s, area, category)
            return target.officer_id, target.reason

        # 1. The category's rule, most specific area first: village → commune → province.
        assert await who() == (ids["village_rule"], "rule")
        assert await who(t.village2) == (ids["commune_rule"], "rule")
        assert await who(t.commune) == (ids["commune_rule"], "rule")
        await unrule(s, t.village, "TOGIAC")
        assert await who() == (ids["commune_rule"], "rule")
        await unrule(s, t.commune, "TOGIAC")
        # A category rule on the province still beats the village's default rule.
        assert await who() == (ids["province_rule"], "rule")
        await unrule(s, t.province, "TOGIAC")
        # 2. The area default rule, most specific first.
        assert await who() == (ids["village_default"], "default")
        assert await who(t.village2) == (ids["commune_default"], "default")
        await unrule(s, t.village, None)
        assert await who() == (ids["commune_default"], "default")
        await unrule(s, t.commune, None)
        # 3. No rule: the officers invited for the area handle every category.
        for cat in await categories.for_area(s, t.commune.id):
            target = await routing.resolve(s, t.village, cat.code)
            assert (target.officer_id, target.backup_id, target.reason) == (
                officer_a, officer_b, "officer"), cat.code
        # 4. No officer: the commune's leaders.
        await people.revoke_all(s, officer_a, NOW)
        await people.revoke_all(s, officer_b, NOW)
        assert await who() == (leader, "leader")
        # 5. Nobody at all.
        await people.revoke_all(s, leader, NOW)
        assert await who() == (None, "none")
        # Rules of another commune never apply here.
        await rule(s, t.other_commune, "TOGIAC", ids["province_rule"])
        await rule(s, t.other_commune, None, ids["province_rule"])
        assert await who() == (None, "none")


async def test_other_categories_fall_to_the_default_rule(database: Database):
    async with database.uow() as s:
        t = await tree(s)
        crime, default = await person(s, "crime"), await person(s, "default")
        await rule(s, t.village, "TOGIAC", crime)
        await rule(s, t.commune, None, default)
        assert (await routing.resolve(s, t.village, "TOGIAC")).officer_id == crime
        for code in ("NGHIVAN", "CUTRU", "PCCC", "KHAC"):
            assert (await routing.resolve(s, t.village, code)).officer_id == default


async def test_rule_backup_group_and_officers_of_the_village_first(database: Database):
    async with database.uow() as s:
        t = await tree(s)
        commune_officer = await person(s, "commune_officer", "officer", t.commune)
        village_officer = await person(s, "village_officer", "officer", t.village)
        team = await person(s, "team", "team", t.village)
        # The most specific area's officer comes first, the commune's is the backup.
        target = await routing.resolve(s, t.village, "TOGIAC")
        assert (target.officer_id, target.backup_id) == (village_officer, commune_officer)
        assert (await routing.resolve(s, t.village2, "TOGIAC")).officer_id == commune_officer
        # The "3 in 1" team takes its own categories only.
        target = await routing.resolve(s, t.village, "HOTRO", team_visible=True)
        assert team in (target.officer_id, target.backup_id)
        target = await routing.resolve(s, t.village, "TOGIAC", team_visible=False)
        assert team not in (target.officer_id, target.backup_id)
        # A rule names its backup; a duty group alone is a valid target too.
        await rule(s, t.commune, "TOGIAC", commune_officer, backup=village_officer)
        target = await routing.resolve(s, t.village2, "TOGIAC")
        assert (target.officer_id, target.backup_id, target.reason) == (
            commune_officer, village_officer, "rule")
        group = GroupChat(channel="telegram", chat_id="-100777", title="Trực ban",
                          area_id=t.commune.id)
        s.add(group)
        await s.flush()
        await rule(s, t.commune, "TTCC", None, group=group.id)
        target = await routing.resolve(s, t.village, "TTCC")
        assert (target.officer_id, target.group_chat_id, target.reason) == (
            None, group.id, "rule")


async def test_leaders_nearest_first_and_revoked_staff_ignored(database: Database):
    async with database.uow() as s:
        t = await tree(s)
        city = await person(s, "city_leader", "leader", t.province)
        ward = await person(s, "ward_leader", "leader", t.commune)
        target = await routing.resolve(s, t.village, "TOGIAC")
        assert (target.officer_id, target.backup_id, target.reason) == (ward, city, "leader")
        gone = await person(s, "gone_officer", "officer", t.commune)
        grant = (await s.execute(select(RoleGrant).where(RoleGrant.person_id == gone))
                 ).scalar_one()
        grant.revoked_at = NOW
        assert (await routing.resolve(s, t.village, "TOGIAC")).officer_id == ward


async def test_rule_changes_are_stored_once_listed_and_audited(database: Database):
    async with database.uow() as s:
        t = await tree(s)
        a, b = await person(s, "a", "officer", t.commune), await person(s, "b", "officer",
                                                                         t.commune)
        await rule(s, t.commune, "TOGIAC", a)
        await rule(s, t.commune, "TOGIAC", b, backup=a)  # replaces, no second row
        await rule(s, t.village, None, a)
        listed = [(area.code, r.category_code, r.officer_id, r.backup_id)
                  for r, area in await routing.list_rules(s)]
        assert sorted(listed, key=str) == sorted(
            [("20242", "TOGIAC", b, a), (t.village.code, None, a, None)], key=str)
        assert [r.category_code for r, _ in await routing.list_rules(s, [t.village.id])] == [None]
        assert not await routing.remove_rule(s, area=t.commune, category="PCCC", actor_id=None,
                                             actor_label="test", at=NOW)
        await unrule(s, t.commune, "TOGIAC")
        actions = [e.action for e in (await s.execute(select(AuditEntry).where(
            AuditEntry.action.like("rule.%")).order_by(AuditEntry.id))).scalars()]
        assert actions == ["rule.set", "rule.set", "rule.set", "rule.remove"]
        details = (await s.execute(select(AuditEntry.details).where(
            AuditEntry.action == "rule.remove"))).scalar_one()
        assert details["area"] == "20242" and details["category"] == "TOGIAC"


# --- end to end ----------------------------------------------------------------------------


async def test_rules_route_tips_end_to_end(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h, other_officer=False)
        async with h.rt.deps.db.uow() as s:
            village = await areas.by_id(s, w.village1_id)
            commune = await areas.by_id(s, w.commune_id)
            assert village and commune
            await rule(s, village, "TOGIAC", w.officer2.person_id)
            await rule(s, commune, None, w.leader.person_id)
        # An officer invited for Thanh Khê, with no rule there, takes every category.
        khe = await invite_staff(h, 9501, "Mai Văn Phúc", "officer", "20209", "phuc_thanhkhe")
        village1 = await onboard(h, 7_000_001, "Hoa")
        village2 = await onboard(h, 7_000_002, "Lan", village=VILLAGE_2)
        thanh_khe = await onboard(h, 7_000_003, "Minh", commune="Thanh Khe",
                                  commune_label="Phường Thanh Khê")

        crime_v1 = await file_tip(village1)
        other_v1 = await file_tip(village1, "Người lạ hỏi thăm nhà đi vắng",
                                  category="Người, xe, hoạt động khả nghi")
        crime_v2 = await file_tip(village2, where=VILLAGE_2)
        scam = await file_tip(thanh_khe, "Có người gọi giả danh công an đòi chuyển tiền",
                              category="Lừa đảo qua mạng", where="Phường Thanh Khê")
        await h.deliver()

        def got(member: object, ref: str) -> bool:
            return any(ref in t for t in texts(h.tg.sent_to(member.chat)))  # type: ignore[attr-defined]

        assert got(w.officer2, crime_v1) and not got(w.leader, crime_v1)  # village rule
        assert got(w.leader, other_v1) and not got(w.officer2, other_v1)  # commune default
        assert got(w.leader, crime_v2) and not got(w.officer2, crime_v2)  # not their village
        assert got(khe, scam)  # invited officer, every category
        assert not any(got(w.officer, r) for r in (crime_v1, other_v1, crime_v2, scam))
        assert (await case_by_ref(h, crime_v1)).assignee_id == w.officer2.person_id


# --- /quytac ------------------------------------------------------------------------------


async def test_leader_sets_and_removes_a_rule_in_chat(make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        village_officer = await add_staff(h, 9401, "Hồ Văn Lâm", "officer", w.village2_id)
        leader = w.leader.user
        out = texts(await leader.send("/quytac"))
        assert "Quy tắc chuyển tin — Phường Hải Châu" in out[0] and "Chưa có quy tắc" in out[0]
        assert "Chọn loại tin" in out[-1]
        # Free text is not a choice.
        out = texts(await leader.send("cướp"))
        assert "Hãy chọn một mục" in out[0] and "Chọn loại tin" in out[-1]
        out = await leader.press("Tố giác tội phạm")
        markup = str(out[-1].reply_markup)
        assert "Tin “Tố giác tội phạm” ở Phường Hải Châu" in (out[-1].text or "")
        # The ward's officers and the street group's, nobody from elsewhere, no leaders.
        for name in ("Trần Văn Bình", "Lê Thị Cúc", "Hồ Văn Lâm"):
            assert name in markup
        for name in ("Đỗ Văn Khoa", "Phạm Minh Đức", "Võ Quốc Hùng"):
            assert name not in markup
        out = texts(await leader.send("Ai cũng được"))
        assert "Hãy chọn một mục" in out[0]
        out = texts(await leader.press("Lê Thị Cúc"))
        assert "Đã lưu" in out[0] and "Lê Thị Cúc" in out[0]
        async with h.rt.deps.db.read() as s:
            rules = await routing.list_rules(s)
            entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == "rule.set"))
                     ).scalar_one()
        assert [(a.code, r.category_code, r.officer_id) for r, a in rules] == [
            ("20242", "TOGIAC", w.officer2.person_id)]
        assert (entry.actor_id, entry.actor_label) == (w.leader.person_id, "chat")

        # The rule is in force, and shows in the next /quytac.
        u = await onboard(h, 7_000_001, "Hoa")
        ref = await file_tip(u)
        await h.deliver()
        assert any(ref in t for t in texts(h.tg.sent_to(w.officer2.chat)))
        assert not any(ref in t for t in texts(h.tg.sent_to(w.officer.chat)))
        out = texts(await leader.send("/quytac"))
        assert "Tố giác tội phạm → Lê Thị Cúc" in out[0]

        # The area default, then removing the crime rule.
        await leader.press("Mọi loại tin")
        out = texts(await leader.press("Hồ Văn Lâm"))
        assert "Đã lưu" in out[0]
        await leader.send("/quytac")
        await leader.press("Tố giác tội phạm")
        out = texts(await leader.press("Bỏ quy tắc"))
        assert "Đã bỏ quy tắc" in out[0]
        async with h.rt.deps.db.read() as s:
            rules = await routing.list_rules(s)
        assert [(r.category_code, r.officer_id) for r, _ in rules] == [
            (None, village_officer.person_id)]
        assert await audit_count(h, "rule.set") == 2
        assert await audit_count(h, "rule.remove") == 1


async def test_only_leaders_and_admins_may_set_rules_in_chat(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        out = texts(await w.officer.user.send("/quytac"))
        assert "Chỉ lãnh đạo công an" in out[0]
        u = await onboard(h, 7_000_001, "Hoa")
        out = texts(await u.send("/quytac"))
        assert "chỉ dành cho cán bộ" in out[0]
        # A leader of two areas chooses the area first; English works too (/rules).
        async with h.rt.deps.db.uow() as s:
            await people.grant(s, w.province_leader.person_id, "admin", w.other_commune_id)
        out = texts(await w.province_leader.user.send("/rules"))
        assert "Đặt quy tắc chuyển tin cho địa bàn nào?" in out[-1]
        out = texts(await w.province_leader.user.press("Phường Thanh Khê"))
        assert "Quy tắc chuyển tin — Phường Thanh Khê" in out[0]
        out = texts(await w.province_leader.user.press("Tố giác tội phạm"))
        assert "Đỗ Văn Khoa" in str(h.tg.last(w.province_leader.chat).reply_markup)
        out = texts(await w.province_leader.user.press("Hủy"))
        assert "Đã dừng" in out[0]
        assert await audit_count(h, "rule.set") == 0


def test_rules_texts_exist_in_both_languages():
    vi = {k for k in catalogue("vi") if k.startswith(("rules.", "relay."))}
    en = {k for k in catalogue("en") if k.startswith(("rules.", "relay."))}
    assert vi == en and vi
