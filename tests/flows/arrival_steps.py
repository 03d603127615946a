"""Shared steps for the declaration tests: a world with an officer, a village head and
hosts, a harness the test drives (deliveries and timers by hand), and common walks.

    async with arrival_harness(make_config, sqlite_url, clock) as h:
        w = await arrival_world(h)
        await declare(w.host, ["Nguyễn Văn An, 01/02/1990, 001090054321, nam"])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.services import arrivals
from storage.repos import people
from storage.tables import Arrival, Guest
from tests.support.harness import BotHarness, TgUser
from tests.support.seed import World, add_staff, seed_world

UNPACED = {"limits": {"per_chat_per_second": 1000, "global_per_second": 10000}}
AN = "Nguyễn Văn An, 01/02/1990, 001090054321, nam"  # 001: Hà Nội, 0: 1900s male, 90
BICH = "Lê Thị Bích, 15/08/2001, 048301004321, nữ"  # 048: Đà Nẵng, 3: 2000s female, 01
AN_ID, BICH_ID = "001090054321", "048301004321"


def arrival_harness(make_config: Any, db_url: str, clock: Any,
                    **overrides: dict[str, Any]) -> BotHarness:
    """Unpaced, with the dispatcher and scheduler driven by the test."""
    sections = {k: dict(v) for k, v in UNPACED.items()} | overrides
    return BotHarness(make_config, db_url, clock, background=False, overrides=sections)


@dataclass
class ArrivalWorld:
    w: World
    host: TgUser
    host_id: int
    place_id: int
    head: TgUser
    head_id: int
    other_host: TgUser
    other_host_id: int


async def add_host(h: BotHarness, user_id: int, name: str, area_id: int,
                   phone: str | None = "+84912000111") -> tuple[TgUser, int]:
    """A registered resident (consent given) living in ``area_id``."""
    async with h.rt.deps.db.uow() as s:
        person = await people.add_person(s, channel="telegram", user_id=str(user_id),
                                         chat_id=str(user_id), language="vi",
                                         display_name=name)
        person.consent, person.phone, person.home_area_id = True, phone, area_id
        pid = person.id
    return h.user(user_id, name.split()[-1]), pid


async def arrival_world(h: BotHarness, *, place: bool = True) -> ArrivalWorld:
    """Hải Châu with two officers, a village head of Tổ dân phố 1, and two hosts there
    (the first with a registered household place unless ``place`` is False)."""
    w = await seed_world(h, officer2=False)
    head = await add_staff(h, 9401, "Ngô Văn Tổ", "village_head", w.village1_id,
                           username="to_truong_1")
    host, host_id = await add_host(h, 1001, "Trần Thị Hoa", w.village1_id)
    other, other_id = await add_host(h, 1002, "Phan Văn Khải", w.village1_id)
    place_id = 0
    if place:
        async with h.rt.deps.db.uow() as s:
            p = await arrivals.add_place(s, host_id=host_id, area_id=w.village1_id,
                                         kind="household", address="12 Trần Phú",
                                         now=h.rt.deps.clock())
            place_id = p.id
    return ArrivalWorld(w, host, host_id, place_id, head.user, head.person_id, other, other_id)


async def declare(u: TgUser, lines: list[str], *, reason: str = "Thăm thân",
                  start: str | None = None, until: str = "1 đêm") -> int:
    """Walk /khaibao to the review screen; returns how many messages the host sent."""
    sent = 0

    async def act(coro: Any) -> None:
        nonlocal sent
        await coro
        sent += 1

    await act(u.send("/khaibao"))
    for line in lines:
        await act(u.send(line))
    await act(u.press("Xong"))
    await act(u.press(reason))
    await act(u.send(start) if start else u.press("Hôm nay"))
    await act(u.press(until) if until in ("1 đêm", "2 đêm", "1 tuần", "1 tháng")
              else u.send(until))
    assert "Kiểm tra lại trước khi gửi" in u.last_text(), u.texts()[-3:]
    return sent


def ref_in(texts: list[str]) -> str:
    found = re.findall(r"LT-\d\d-\d{6}", "\n".join(texts))
    assert found, texts[-3:]
    return found[-1]


async def arrival_rows(h: BotHarness) -> list[tuple[Arrival, list[Guest]]]:
    async with h.rt.deps.db.read() as s:
        out = []
        for a in (await s.execute(select(Arrival).order_by(Arrival.id))).scalars():
            gs = list((await s.execute(select(Guest).where(Guest.arrival_id == a.id)
                                       .order_by(Guest.id))).scalars())
            out.append((a, gs))
        s.expunge_all()
        return out
