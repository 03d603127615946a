"""Audience resolution and fan-out on SQLite and PostgreSQL: areas with their descendants,
roles, consent, erasure, opt-out and topics, one account per person, linked group chats;
delivery rows written by one INSERT … SELECT, and never twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from broadcasts import audience, fanout
from broadcasts.audience import Audience
from storage.db import Database
from storage.tables import (
    Area,
    Broadcast,
    BroadcastOccurrence,
    Delivery,
    GroupChat,
    Identity,
    Person,
    Place,
    RoleGrant,
    Subscription,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PROV, HC, TK, HC1, OTHER = 1, 2, 3, 4, 5


@pytest.fixture
async def town(database: Database) -> Database:
    """Two wards of a city (one with a street group), a ward elsewhere, and their people."""
    async with database.uow() as s:
        s.add_all([Area(id=PROV, code="48", level="province", name="Đà Nẵng", type="Thành phố",
                        key="x"),
                   Area(id=HC, code="20242", parent_id=PROV, level="commune", name="Hải Châu",
                        type="Phường", key="hc", hotline="0236 3822 111"),
                   Area(id=TK, code="20209", parent_id=PROV, level="commune", name="Thanh Khê",
                        type="Phường", key="tk"),
                   Area(id=HC1, code="20242-1", parent_id=HC, level="village", name="1",
                        type="Tổ dân phố", key="t1"),
                   Area(id=OTHER, code="99", level="province", name="Khác", type="Tỉnh",
                        key="k")])
        await s.flush()
        people = {  # id: (home, language, consent, opt-out, erased)
            101: (HC, "vi", True, False, False), 102: (HC1, "en", True, False, False),
            103: (TK, "vi", True, False, False), 104: (HC, "vi", False, False, False),
            105: (HC, "vi", True, True, False), 106: (HC, "vi", True, False, True),
            107: (OTHER, "vi", True, False, False), 108: (None, "vi", True, False, False),
            109: (HC1, "vi", True, False, False), 110: (OTHER, "vi", True, False, False)}
        for pid, (home, lang, consent, out, erased) in people.items():
            s.add(Person(id=pid, home_area_id=home, language=lang, consent=consent,
                         broadcasts_opt_out=out, erased_at=NOW if erased else None))
        await s.flush()
        for pid in people:
            s.add(Identity(person_id=pid, channel="telegram", user_id=str(pid),
                           chat_id=str(pid), reachable=pid != 109))
        s.add(Identity(person_id=101, channel="web", user_id="w101", chat_id="w101"))
        s.add(Identity(person_id=109, channel="web", user_id="w109", chat_id="w109"))
        s.add(RoleGrant(person_id=108, role="village_head", area_id=HC1))
        s.add(RoleGrant(person_id=107, role="officer", area_id=TK))
        s.add(Place(host_id=110, area_id=HC1, address="5 Lê Lợi"))
        s.add_all([Subscription(person_id=103, topic="*"),
                   Subscription(person_id=103, topic="fire")])
        s.add_all([GroupChat(channel="telegram", chat_id="-1", area_id=HC1, active=True),
                   GroupChat(channel="telegram", chat_id="-2", area_id=TK, active=False),
                   GroupChat(channel="telegram", chat_id="-3", area_id=OTHER, active=True),
                   GroupChat(channel="telegram", chat_id="-4", area_id=None, active=True)])
    return database


async def reach(db: Database, aud: Audience, topic: str = "scams",
                urgent: bool = False) -> dict[int, tuple[str, str, int, str]]:
    async with db.read() as s:
        scope = await audience.expand(s, aud)
        rows = (await s.execute(audience.people(aud, scope, topic, urgent))).all()
    return {r.person_id: (r.channel, r.chat_id, r.area_key, r.language) for r in rows}


async def test_residents_of_the_areas_and_below_once_each(town: Database) -> None:
    got = await reach(town, Audience((HC, TK)))
    # 104 no consent, 105 opted out, 106 erased, 107/110 elsewhere, 108 no home,
    # 103 chose only "fire"; 109's Telegram is unreachable so the web chat is used.
    assert sorted(got) == [101, 102, 109]
    assert got[101] == ("telegram", "101", HC, "vi")
    assert got[102] == ("telegram", "102", HC, "en")  # the street group's text is its ward's
    assert got[109][0:2] == ("web", "w109")


async def test_roles_topics_and_urgency(town: Database) -> None:
    assert sorted(await reach(town, Audience((HC,), ("village_heads",)))) == [108]
    assert sorted(await reach(town, Audience((HC1,), ("hosts",)))) == [110]
    assert sorted(await reach(town, Audience((TK,), ("officers",)))) == [107]
    assert sorted(await reach(town, Audience((TK,), ("subscribers",)), "fire")) == [103]
    assert sorted(await reach(town, Audience((TK,), ("residents",)), "fire")) == [103]
    # Urgent: opt-out and topics do not matter, consent and erasure still do.
    assert sorted(await reach(town, Audience((HC, TK)), urgent=True)) == [101, 102, 103, 105,
                                                                        109]
    # A key outside the areas (the officer lives elsewhere) gets the first target's text.
    assert (await reach(town, Audience((TK,), ("officers",))))[107][2] == TK


async def test_counts_match_the_fan_out(town: Database) -> None:
    aud = Audience((HC, TK), ("residents", "village_heads"), groups=True)
    async with town.read() as s:
        assert await audience.count(s, aud, "scams", False) == (4, 1)


async def test_fan_out_is_one_statement_and_idempotent(town: Database, make_config: Any) -> None:
    config = make_config()
    inserts: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO DELIVERIES" in statement.upper():
            inserts.append(statement)

    event.listen(town.engine.sync_engine, "before_cursor_execute", spy)
    async with town.uow() as s:
        bc = Broadcast(template="scams", topic="scams", urgent=False,
                       audience=Audience((HC, TK), ("residents",), True).to_dict())
        s.add(bc)
        await s.flush()
        occ = BroadcastOccurrence(broadcast_id=bc.id, due_at=NOW)
        s.add(occ)
        await s.flush()
        assert await fanout.fan_out(s, bc, occ, NOW, config) == 4
        assert await fanout.fan_out(s, bc, occ, NOW, config) == 4  # again: nothing new
        rows = (await s.execute(select(Delivery).order_by(Delivery.dedupe_key))).scalars().all()
    event.remove(town.engine.sync_engine, "before_cursor_execute", spy)
    assert len(inserts) == 2  # one statement per run, whatever the audience size
    assert [(d.dedupe_key, d.chat_id, d.is_group) for d in rows] == [
        (f"b{bc.id}:o{occ.id}:g1", "-1", True), (f"b{bc.id}:o{occ.id}:p101", "101", False),
        (f"b{bc.id}:o{occ.id}:p102", "102", False), (f"b{bc.id}:o{occ.id}:p109", "w109", False)]
    by_chat = {d.chat_id: d.payload["text"] for d in rows}
    assert "0236 3822 111" in by_chat["101"] and "WARNING" in by_chat["102"]
    assert "CẢNH BÁO" in by_chat["-1"] and by_chat["-1"].endswith("</i>")
    assert all(d.broadcast_id == bc.id and d.occurrence_id == occ.id and d.state == "pending"
               for d in rows)
