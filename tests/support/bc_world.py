"""A small world for broadcast tests: the usual areas and staff (tests.support.seed), plus
residents and group chats written straight to the database (onboarding them through the
dialog would only slow the tests down; onboarding has its own tests).

    async with seed.harness(make_config, db_url, clock) as h:
        w = await world(h)
        await residents(h, w.commune_id, range(5001, 5011))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from broadcasts import compose
from storage.tables import Broadcast, Delivery, GroupChat, Identity, Person, Subscription
from tests.support.harness import BotHarness
from tests.support.seed import World, harness, seed_world

MONDAY_0800 = "2026-11-30T01:00:00+00:00"  # the FakeClock starts Monday 23/11 10:00 local
# The fake's flood control is on, with Telegram's global and group limits on both sides.
# Per chat, Telegram allows about one message a second but tolerates a dialog's short
# bursts, which the fake's strict one-second window does not: our pacer runs at three a
# second per chat here (the dialogs in these tests tap far faster than people do; the
# production pace of one a second is tested in test_broadcast_delivery) and the fake
# allows the most that pace can put into one second (a burst of three, then three).
FLOOD = {"limits": {"global_per_second": 30, "per_chat_per_second": 3, "group_per_minute": 20}}


@asynccontextmanager
async def flooded(make_config: Any, db_url: str, clock: Any, *, background: bool = False,
                  overrides: dict[str, dict[str, Any]] | None = None
                  ) -> AsyncIterator[BotHarness]:
    """The harness with Telegram's limits and the fake's flood control on."""
    sections = {**FLOOD, **(overrides or {})}
    sections["limits"] = {**FLOOD["limits"], **(overrides or {}).get("limits", {})}
    async with harness(make_config, db_url, clock, background=background,
                       overrides=sections) as h:
        lim = h.config.limits
        per_chat = int(lim.per_chat_per_second)
        h.tg.set_limits(global_per_sec=int(lim.global_per_second),
                        per_chat_per_sec=per_chat if per_chat == 1 else 2 * per_chat,
                        per_group_per_min=int(lim.group_per_minute))
        yield h


async def world(h: BotHarness) -> World:
    return await seed_world(h)


async def residents(h: BotHarness, area_id: int, user_ids: Iterable[int], *,
                    language: str = "vi", opt_out: bool = False, consent: bool = True,
                    topics: list[str] | None = None) -> list[int]:
    """Residents of ``area_id``, each with a Telegram chat whose id is their user id."""
    ids = []
    async with h.rt.deps.db.uow() as s:
        for uid in user_ids:
            p = Person(display_name=f"Cư dân {uid}", language=language, home_area_id=area_id,
                       consent=consent, broadcasts_opt_out=opt_out)
            s.add(p)
            await s.flush()
            s.add(Identity(person_id=p.id, channel="telegram", user_id=str(uid),
                           chat_id=str(uid)))
            if topics is not None:
                s.add_all([Subscription(person_id=p.id, topic=t) for t in ("*", *topics)])
            ids.append(p.id)
    return ids


async def group(h: BotHarness, chat_id: int, area_id: int, title: str = "Tổ 1") -> int:
    async with h.rt.deps.db.uow() as s:
        g = GroupChat(channel="telegram", chat_id=str(chat_id), title=title, area_id=area_id,
                      active=True)
        s.add(g)
        await s.flush()
        return g.id


async def broadcast(h: BotHarness, bid: int) -> Broadcast:
    async with h.rt.deps.db.read() as s:
        bc = await s.get(Broadcast, bid)
        assert bc is not None
        s.expunge(bc)
        return bc


async def latest_broadcast(h: BotHarness) -> Broadcast:
    async with h.rt.deps.db.read() as s:
        bc = (await s.execute(select(Broadcast).order_by(Broadcast.id.desc()).limit(1))
              ).scalar_one()
        s.expunge(bc)
        return bc


async def states(h: BotHarness, **where: Any) -> dict[str, int]:
    """Broadcast delivery rows per state."""
    async with h.rt.deps.db.read() as s:
        stmt = select(Delivery.state, func.count()).where(Delivery.kind == "broadcast") \
            .group_by(Delivery.state)
        for col, value in where.items():
            stmt = stmt.where(getattr(Delivery, col) == value)
        return {k: int(n) for k, n in (await s.execute(stmt)).all()}


def received(h: BotHarness, chat: int, needle: str) -> int:
    """How many messages to ``chat`` contain ``needle``."""
    return sum(needle in (s.text or "") for s in h.tg.sent_to(chat))


async def round_trip(h: BotHarness) -> None:
    """Fire due jobs and send everything due (twice: reports come after the sends)."""
    await h.tick()
    await h.deliver()
    await h.tick()
    await h.deliver()


async def notice(h: BotHarness, w: World, template: str, *, urgent: bool = False,
                 text: str = "", area_id: int | None = None,
                 schedule: dict[str, Any] | None = None) -> int:
    """The ward leader's notice, stored as the composer would (the dialog has its tests)."""
    area = area_id or w.commune_id
    draft = compose.Draft(template=template, text_vi=text, areas=[area], urgent=urgent,
                          schedule=schedule or {"kind": "now"})
    async with h.rt.deps.db.uow() as s:
        bc = await compose.create(s, draft, author_id=w.leader.person_id,
                                  roles=[("leader", w.commune_id)], config=h.rt.deps.config,
                                  now=h.rt.deps.clock())
        return bc.id
