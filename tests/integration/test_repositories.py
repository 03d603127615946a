"""Repositories and the unit of work, the same cases on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import areas as areas_svc
from bot.services import invites
from storage.db import Database
from storage.repos import areas, conversations, people
from storage.tables import (
    Area,
    AuditEntry,
    Conversation,
    Identity,
    Invite,
    Person,
    ProcessedUpdate,
    RoleGrant,
    Timer,
)
from tests.support.clock import FakeClock

DA_NANG = "48"
HAI_CHAU = "20242"


async def _count(db: Database, model: type) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def da_nang(database: Database) -> Database:
    """The migrated database with one province imported."""
    async with database.uow() as s:
        added, updated = await areas_svc.import_units(s, DA_NANG)
    assert updated == 0 and added > 1
    return database


# --- areas -----------------------------------------------------------------------------


async def test_import_one_province(da_nang: Database) -> None:
    async with da_nang.read() as s:
        province = await areas.by_code(s, DA_NANG)
        assert province is not None and province.level == "province"
        assert (province.type, province.name) == ("Thành phố", "Đà Nẵng")
        communes = await areas.children(s, province.id)
        assert len(communes) == await _count(da_nang, Area) - 1
        assert all(c.level == "commune" and c.parent_id == province.id for c in communes)
        assert [c.code for c in communes] == sorted(c.code for c in communes)
        assert [p.code for p in await areas.by_level(s, "province")] == [DA_NANG]


async def test_import_is_idempotent(da_nang: Database) -> None:
    before = await _count(da_nang, Area)
    async with da_nang.uow() as s:
        assert await areas_svc.import_units(s, DA_NANG) == (0, 0)
    assert await _count(da_nang, Area) == before


async def test_import_renames_a_changed_commune(da_nang: Database) -> None:
    async with da_nang.uow() as s:
        row = await areas.by_code(s, HAI_CHAU)
        assert row is not None
        row.name, row.key = "Cũ", "phuong cu"
    async with da_nang.uow() as s:
        assert await areas_svc.import_units(s, DA_NANG) == (0, 1)
    async with da_nang.read() as s:
        row = await areas.by_code(s, HAI_CHAU)
        assert row is not None and row.name == "Hải Châu" and row.key == "phuong hai chau"


async def test_search_finds_hai_chau_first(da_nang: Database) -> None:
    for query in ["hai chau", "Hải Châu", "HAI CHÂU", "phuong hai chau", "Hai  Chau ",
                  unicodedata.normalize("NFD", "Hải Châu")]:
        async with da_nang.read() as s:
            found = await areas.search(s, query)
        assert found, query
        assert found[0].code == HAI_CHAU, query
        assert areas.label(found[0]) == "Phường Hải Châu"


async def test_search_filters_and_limits(da_nang: Database) -> None:
    async with da_nang.read() as s:
        province = await areas.by_code(s, DA_NANG)
        assert province is not None
        assert await areas.search(s, "hai chau", level="province") == []
        assert [a.code for a in await areas.search(s, "hai chau", parent_id=province.id)][:1] \
            == [HAI_CHAU]
        assert await areas.search(s, "hai chau", parent_id=-1) == []
        assert await areas.search(s, "   ") == []
        assert await areas.search(s, "khong co noi nao nhu vay") == []
        many = await areas.search(s, "phuong", limit=3)
        assert len(many) == 3
        # A LIKE wildcard in the query is taken literally.
        assert await areas.search(s, "%") == []
        assert await areas.search(s, "_") == []


async def test_add_village_ancestors_and_descendants(da_nang: Database, clock: FakeClock) -> None:
    async with da_nang.uow() as s:
        first = await areas_svc.add_village(s, parent_code=HAI_CHAU, name="Tổ dân phố 5",
                                            type_=None, at=clock())
        second = await areas_svc.add_village(s, parent_code=HAI_CHAU, name="tổ 7",
                                             type_="Tổ", at=clock())
    assert (first.code, first.type, first.name, first.level) == (
        f"{HAI_CHAU}-1", "Tổ dân phố", "5", "village")
    assert second.code == f"{HAI_CHAU}-2"

    async with da_nang.read() as s:
        village = await areas.by_code(s, f"{HAI_CHAU}-1")
        assert village is not None and areas.label(village) == "Tổ dân phố 5"
        chain = await areas.ancestors(s, village)
        assert [a.code for a in chain] == [f"{HAI_CHAU}-1", HAI_CHAU, DA_NANG]
        assert [a.level for a in chain] == ["village", "commune", "province"]

        commune = chain[1]
        assert await areas.descendant_ids(s, [commune.id]) == {commune.id, first.id, second.id}
        province = chain[2]
        everything = await areas.descendant_ids(s, [province.id])
        assert everything == set((await s.execute(select(Area.id))).scalars())
        assert await areas.descendant_ids(s, []) == set()
        assert [c.code for c in await areas.children(s, commune.id)] == [
            f"{HAI_CHAU}-1", f"{HAI_CHAU}-2"]
        found = await areas.search(s, "to dan pho 5")
        assert [a.code for a in found] == [f"{HAI_CHAU}-1"]
        audited = (await s.execute(select(AuditEntry.object_id).where(
            AuditEntry.action == "area.add"))).scalars().all()
        assert sorted(audited) == [f"{HAI_CHAU}-1", f"{HAI_CHAU}-2"]


async def test_add_village_refuses_duplicates_and_bad_parents(da_nang: Database,
                                                              clock: FakeClock) -> None:
    async with da_nang.uow() as s:
        await areas_svc.add_village(s, parent_code=HAI_CHAU, name="Tổ dân phố 5", type_=None,
                                    at=clock())
    for parent, name, problem in [(HAI_CHAU, "TỔ DÂN PHỐ  5", "already exists"),
                                  (DA_NANG, "Thôn 1", "no commune"),
                                  ("99999", "Thôn 1", "no commune"),
                                  (HAI_CHAU, "  ", "empty")]:
        with pytest.raises(ValueError, match=problem):
            async with da_nang.uow() as s:
                await areas_svc.add_village(s, parent_code=parent, name=name, type_=None,
                                            at=clock())
    async with da_nang.read() as s:
        assert len(await areas.by_level(s, "village")) == 1


async def test_village_codes_skip_taken_numbers(da_nang: Database, clock: FakeClock) -> None:
    async with da_nang.uow() as s:
        commune = await areas.by_code(s, HAI_CHAU)
        assert commune is not None
        await areas.add(s, code=f"{HAI_CHAU}-2", name="2", type_="Tổ dân phố", level="village",
                        parent=commune)
        new = await areas_svc.add_village(s, parent_code=HAI_CHAU, name="Tổ dân phố 9",
                                          type_=None, at=clock())
    assert new.code == f"{HAI_CHAU}-3"


# --- people, identities, roles ---------------------------------------------------------


async def test_people_identities_and_role_grants(da_nang: Database, clock: FakeClock) -> None:
    async with da_nang.uow() as s:
        commune = await areas.by_code(s, HAI_CHAU)
        assert commune is not None
        lan = await people.add_person(s, channel="telegram", user_id="601", chat_id="601",
                                      language="vi", username="lan_dn", display_name="Trần Thị Lan")
        s.add(Identity(person_id=lan.id, channel="zalo", user_id="z-601", chat_id="z-601"))
        minh = await people.add_person(s, channel="web", user_id="w1", chat_id="w1",
                                       language="en")
        await people.grant(s, lan.id, "officer", commune.id, granted_by=minh.id)
        await people.grant(s, lan.id, "leader", commune.id)
        commune_id = commune.id

    async with da_nang.read() as s:
        found = await people.by_identity(s, "telegram", "601")
        assert found is not None and found.id == lan.id
        assert found.display_name == "Trần Thị Lan" and found.language == "vi"
        assert found.created_at.tzinfo is not None
        via_zalo = await people.by_identity(s, "zalo", "z-601")
        assert via_zalo is not None and via_zalo.id == lan.id
        assert await people.by_identity(s, "telegram", "w1") is None
        ident = await people.identity(s, "telegram", "601")
        assert ident is not None and ident.username == "lan_dn" and ident.reachable
        assert [i.channel for i in await people.identities_of(s, lan.id)] == ["telegram", "zalo"]
        assert await people.active_roles(s, lan.id) == [("officer", commune_id),
                                                        ("leader", commune_id)]
        assert await people.active_roles(s, minh.id) == []
        staff = await people.staff(s)
        assert [(p.id, g.role, a.code) for p, g, a in staff] == [
            (lan.id, "leader", HAI_CHAU), (lan.id, "officer", HAI_CHAU)]
        assert await people.staff(s, []) == []

    async with da_nang.uow() as s:
        assert await people.revoke_all(s, lan.id, clock()) == 2
    async with da_nang.read() as s:
        assert await people.active_roles(s, lan.id) == []
        assert await people.staff(s) == []
        revoked = (await s.execute(select(RoleGrant.revoked_at))).scalars().all()
        assert revoked == [clock(), clock()]


async def test_erased_people_are_not_found_by_identity(da_nang: Database,
                                                       clock: FakeClock) -> None:
    async with da_nang.uow() as s:
        p = await people.add_person(s, channel="telegram", user_id="7", chat_id="7",
                                    language="vi")
        p.erased_at = clock()
    async with da_nang.read() as s:
        assert await people.by_identity(s, "telegram", "7") is None
        assert await people.identity(s, "telegram", "7") is not None


async def test_one_identity_per_channel_account(da_nang: Database) -> None:
    async with da_nang.uow() as s:
        await people.add_person(s, channel="telegram", user_id="8", chat_id="8", language="vi")
    with pytest.raises(IntegrityError):
        async with da_nang.uow() as s:
            await people.add_person(s, channel="telegram", user_id="8", chat_id="8",
                                    language="vi")
    assert await _count(da_nang, Person) == 1  # the second person was rolled back too


# --- invites ---------------------------------------------------------------------------


async def _person(db: Database, user_id: str) -> Person:
    async with db.uow() as s:
        return await people.add_person(s, channel="telegram", user_id=user_id, chat_id=user_id,
                                       language="vi")


async def test_invite_create_lookup_and_redeem_once(da_nang: Database, clock: FakeClock) -> None:
    officer = await _person(da_nang, "601")
    other = await _person(da_nang, "602")
    async with da_nang.uow() as s:
        new = await invites.create(s, role="officer", area_code=HAI_CHAU, name="Đại úy Lê Văn An",
                                   valid_for=timedelta(hours=2), now=clock())
    assert new.area.code == HAI_CHAU and new.role == "officer"
    assert new.expires_at == clock() + timedelta(hours=2)
    assert len(f"{invites.PREFIX}{new.token}") <= 64  # fits a Telegram start payload

    async with da_nang.read() as s:
        invite, area = await invites.lookup(s, new.token, clock())
        assert area.code == HAI_CHAU and invite.used_at is None
        assert new.token not in invite.token_hash  # only a hash is stored

    clock.advance(minutes=30)
    async with da_nang.uow() as s:
        person = await s.get(Person, officer.id)
        assert person is not None
        role, area, routed = await invites.redeem(s, new.token, person, clock())
    assert (role, area.code, routed) == ("officer", HAI_CHAU, 0)

    async with da_nang.read() as s:
        person = await s.get(Person, officer.id)
        assert person is not None and person.display_name == "Đại úy Lê Văn An"
        assert await people.active_roles(s, officer.id) == [("officer", area.id)]
        with pytest.raises(invites.InviteError) as info:
            await invites.lookup(s, new.token, clock())
        assert info.value.reason == "invite.invalid"

    async with da_nang.uow() as s:
        person = await s.get(Person, other.id)
        assert person is not None
        with pytest.raises(invites.InviteError) as info:
            await invites.redeem(s, new.token, person, clock())
    assert info.value.reason == "invite.invalid"
    async with da_nang.read() as s:
        assert await people.active_roles(s, other.id) == []


async def test_invite_expires(da_nang: Database, clock: FakeClock) -> None:
    person = await _person(da_nang, "601")
    async with da_nang.uow() as s:
        new = await invites.create(s, role="leader", area_code=HAI_CHAU, name=None,
                                   valid_for=timedelta(hours=2), now=clock())
    clock.advance(hours=2)
    async with da_nang.uow() as s:
        p = await s.get(Person, person.id)
        assert p is not None
        with pytest.raises(invites.InviteError) as info:
            await invites.redeem(s, new.token, p, clock())
    assert info.value.reason == "invite.expired"
    async with da_nang.read() as s:
        assert await people.active_roles(s, person.id) == []


async def test_invite_unknown_token_and_bad_input(da_nang: Database, clock: FakeClock) -> None:
    async with da_nang.read() as s:
        with pytest.raises(invites.InviteError) as info:
            await invites.lookup(s, "not-a-token", clock())
        assert info.value.reason == "invite.invalid"
    async with da_nang.uow() as s:
        with pytest.raises(ValueError, match="unknown role"):
            await invites.create(s, role="mayor", area_code=HAI_CHAU, name=None,
                                 valid_for=timedelta(days=1), now=clock())
        with pytest.raises(ValueError, match="no area"):
            await invites.create(s, role="officer", area_code="99999", name=None,
                                 valid_for=timedelta(days=1), now=clock())


# --- conversations and the processed-update ledger ------------------------------------


async def test_mark_processed_refuses_a_duplicate(database: Database, clock: FakeClock) -> None:
    async with database.uow() as s:
        assert await conversations.mark_processed(s, "telegram", "1001", clock()) is True
        assert await conversations.mark_processed(s, "telegram", "1001", clock()) is False
        assert await conversations.mark_processed(s, "zalo", "1001", clock()) is True
    async with database.uow() as s:  # a retry after a restart
        assert await conversations.mark_processed(s, "telegram", "1001", clock()) is False
        assert await conversations.mark_processed(s, "telegram", "1002", clock()) is True


async def test_forget_processed_before(database: Database, clock: FakeClock) -> None:
    async with database.uow() as s:
        await conversations.mark_processed(s, "telegram", "1", clock())
        await conversations.mark_processed(s, "telegram", "2", clock.advance(days=2))
    async with database.uow() as s:
        assert await conversations.forget_processed_before(
            s, clock() - timedelta(days=1)) == 1
    async with database.uow() as s:
        assert await conversations.mark_processed(s, "telegram", "1", clock()) is True
        assert await conversations.mark_processed(s, "telegram", "2", clock()) is False


async def test_conversation_json_round_trips_vietnamese(database: Database,
                                                        clock: FakeClock) -> None:
    key = ("telegram", "-100123", "601")
    data = {"place": "Kiệt 42 Nguyễn Chí Thanh, phường Hải Châu",
            "note": "Có người lạ đi xe máy không biển số 🚨",
            "photos": ["a1", "b2"], "count": 3, "nested": {"đã_xác_nhận": True, "x": None}}
    async with database.uow() as s:
        await conversations.lock_key(s, key)
        assert await conversations.load(s, key) is None
        s.add(Conversation(channel=key[0], chat_id=key[1], user_id=key[2], flow="tip",
                           step="ask_place", data=data, updated_at=clock()))

    async with database.read() as s:
        row = await conversations.load(s, key)
        assert row is not None
        assert row.data == data
        assert (row.flow, row.step, row.version) == ("tip", "ask_place", 0)
        assert row.updated_at == clock()
        assert await conversations.load(s, ("telegram", "-100123", "602")) is None

    async with database.uow() as s:
        row = await conversations.load(s, key)
        assert row is not None
        await conversations.save(s, key, row, flow=row.flow, step="ask_time",
                                 data={**row.data, "step2": "Đà Nẵng"}, at=clock())
    async with database.read() as s:
        row = await conversations.load(s, key)
        assert row is not None and row.data["step2"] == "Đà Nẵng" and row.version == 1
        assert (row.flow, row.step) == ("tip", "ask_time")

    async with database.uow() as s:
        await conversations.delete_for_user(s, "telegram", "601")
    async with database.read() as s:
        assert await conversations.load(s, key) is None


# --- times and transactions ------------------------------------------------------------


async def test_utc_aware_datetimes_round_trip(database: Database) -> None:
    hanoi = datetime(2026, 1, 5, 22, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    utc = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    async with database.uow() as s:
        s.add(Timer(kind="test", ref="hanoi", due_at=hanoi))
        s.add(Timer(kind="test", ref="utc", due_at=utc, fired_at=utc))
    async with database.read() as s:
        rows = {t.ref: t for t in (await s.execute(select(Timer))).scalars()}
    assert rows["hanoi"].due_at == hanoi
    assert rows["hanoi"].due_at.tzinfo is not None
    assert rows["hanoi"].due_at.utcoffset() == timedelta(0)
    assert rows["hanoi"].due_at.hour == 15  # 22:30 in Hanoi is 15:30 UTC
    assert rows["utc"].due_at == utc and rows["utc"].fired_at == utc
    assert rows["hanoi"].fired_at is None
    # Comparisons in SQL work on the UTC values.
    async with database.read() as s:
        later = (await s.execute(select(Timer.ref).where(
            Timer.due_at > datetime(2026, 1, 5, 15, 30, 15, tzinfo=UTC)))).scalars().all()
    assert sorted(later) == ["hanoi", "utc"]


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with database.uow() as s:
            s.add(Timer(kind="test", ref="naive", due_at=datetime(2026, 1, 1, 12, 0)))
    assert await _count(database, Timer) == 0


async def test_rolled_back_unit_of_work_leaves_nothing(da_nang: Database,
                                                       clock: FakeClock) -> None:
    areas_before = await _count(da_nang, Area)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with da_nang.uow() as s:
            p = await people.add_person(s, channel="telegram", user_id="601", chat_id="601",
                                        language="vi")
            commune = await areas.by_code(s, HAI_CHAU)
            assert commune is not None
            await people.grant(s, p.id, "officer", commune.id)
            await areas_svc.add_village(s, parent_code=HAI_CHAU, name="Thôn 1", type_=None,
                                        at=clock())
            await conversations.mark_processed(s, "telegram", "1", clock())
            raise Boom
    for model in (Person, Identity, RoleGrant, AuditEntry):
        assert await _count(da_nang, model) == 0, model
    assert await _count(da_nang, Area) == areas_before
    async with da_nang.uow() as s:
        assert await conversations.mark_processed(s, "telegram", "1", clock()) is True


# --- repositories never commit ---------------------------------------------------------


async def _add_person(s: AsyncSession, now: datetime) -> None:
    await people.add_person(s, channel="telegram", user_id="1", chat_id="1", language="vi")


async def _add_area(s: AsyncSession, now: datetime) -> None:
    await areas.add(s, code="99", name="Thử", type_="Tỉnh", level="province", parent=None)


async def _add_village(s: AsyncSession, now: datetime) -> None:
    await areas_svc.add_village(s, parent_code=HAI_CHAU, name="Thôn 1", type_=None, at=now)


async def _import(s: AsyncSession, now: datetime) -> None:
    await areas_svc.import_units(s, "01")


async def _mark(s: AsyncSession, now: datetime) -> None:
    assert await conversations.mark_processed(s, "telegram", "1", now)


async def _invite(s: AsyncSession, now: datetime) -> None:
    await invites.create(s, role="officer", area_code=HAI_CHAU, name=None,
                         valid_for=timedelta(days=1), now=now)


@pytest.mark.parametrize("call", [_add_person, _add_area, _add_village, _import, _mark, _invite],
                         ids=lambda f: f.__name__.strip("_"))
async def test_repositories_do_not_commit(
        da_nang: Database, clock: FakeClock,
        call: Callable[[AsyncSession, datetime], Awaitable[None]]) -> None:
    async def snapshot(s: AsyncSession) -> list[int]:
        return [int((await s.execute(select(func.count()).select_from(m))).scalar_one())
                for m in (Area, Person, Identity, AuditEntry, ProcessedUpdate, Invite)]

    async with da_nang.read() as s:
        before = await snapshot(s)
    async with da_nang.sessions() as s:
        await call(s, clock())
        assert await snapshot(s) != before  # the call did write, inside its transaction
    async with da_nang.read() as s:
        assert await snapshot(s) == before
