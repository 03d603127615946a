"""The send pacer: even spacing under the global rate (never more than the limit in any
one-second window), private-chat bursts, a group's sliding 20 per minute, and a 429
voiding the slots of sends already waiting."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.channels.base import Failure, SendError
from bot.channels.pacing import BACKGROUND_AHEAD, GROUP_SPAN, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def max_in_window(stamps: list[float], span: float = 1.0) -> int:
    return max(sum(1 for s in stamps if t <= s < t + span) for t in stamps)


def test_global_slots_are_evenly_spaced_and_never_exceed_the_limit_in_a_second() -> None:
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    slots = [pacer._global_slot(clock.now) for _ in range(300)]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(slots)}
    assert gaps == {round(1.03 / 30, 6)}
    assert max_in_window(slots) == 30
    assert 300 / (slots[-1] - slots[0] + 1.03 / 30) == pytest.approx(30 / 1.03, rel=1e-3)


def test_a_fast_limit_allows_a_tiny_burst_but_keeps_the_rate() -> None:
    clock = Clock()
    pacer = Pacer(1000, clock=clock)
    slots = [pacer._global_slot(clock.now) for _ in range(3000)]
    assert slots[:10] == pytest.approx([clock.now] * 10) and slots[10] > clock.now
    assert max_in_window(slots[::7]) <= 1000 // 7 + 1 and max_in_window(slots) <= 1000


def test_private_chats_get_a_burst_of_three_then_one_a_second() -> None:
    clock = Clock()
    pacer = Pacer(30, per_chat_per_second=1, clock=clock)
    slots = [pacer._chat_slot("7", False, clock.now, take=True) - clock.now for _ in range(5)]
    assert slots == pytest.approx([0, 0, 0, 1.03, 2.06])
    assert pacer.chat_delay("7") == pytest.approx(3.09)  # nothing reserved by asking
    assert pacer.chat_delay("8") == 0


def test_a_group_gets_one_a_second_and_twenty_in_any_minute() -> None:
    clock = Clock()
    pacer = Pacer(30, per_chat_per_second=1, group_per_minute=20, clock=clock)
    slots = [pacer._chat_slot("-4", True, clock.now, take=True) - clock.now for _ in range(3)]
    assert slots == pytest.approx([0, 1.03, 2.06])  # no burst in a group
    pacer = Pacer(30, per_chat_per_second=1000, group_per_minute=20, clock=clock)
    slots = [pacer._chat_slot("-5", True, clock.now, take=True) - clock.now for _ in range(21)]
    assert slots[:20] == pytest.approx([i * 1.03 / 1000 for i in range(20)])
    assert slots[20] == pytest.approx(GROUP_SPAN)
    clock.now += 30
    assert pacer.chat_delay("-5", is_group=True) == pytest.approx(GROUP_SPAN - 30, abs=0.01)
    assert pacer.chat_delay("-6", is_group=True) == 0


async def test_a_pause_voids_waiting_sends_but_not_later_ones() -> None:
    pacer = Pacer(20)  # real time: 51.5 ms apart
    results: list[object] = []

    async def send(chat: str) -> None:
        try:
            await pacer.wait(chat)
            results.append(chat)
        except SendError as exc:
            results.append(exc)

    tasks = [asyncio.create_task(send(str(i))) for i in range(6)]
    await asyncio.sleep(0.06)  # the first two went
    pacer.pause(5)  # a 429: the four still waiting must not go
    await asyncio.gather(*tasks)
    sent = [r for r in results if isinstance(r, str)]
    held = [r for r in results if isinstance(r, SendError)]
    assert len(sent) == 2 and len(held) == 4
    assert all(e.failure is Failure.RETRY_AFTER and 4 < e.retry_after <= 5 for e in held)
    started = time.monotonic()
    await pacer.wait("later")  # the dispatcher holds new sends by its own clock
    assert time.monotonic() - started < 0.2


async def test_real_waits_follow_the_slots() -> None:
    pacer = Pacer(100)
    stamps: list[float] = []

    async def send(i: int) -> None:
        await pacer.wait(str(i))
        stamps.append(time.monotonic())

    await asyncio.gather(*(send(i) for i in range(40)))
    assert stamps[-1] - stamps[0] >= 39 * 1.03 / 100 - 0.005
    assert max_in_window(stamps, 0.2) <= 21


def test_each_429_slows_the_pace_a_little_for_a_while() -> None:
    clock = Clock()
    pacer = Pacer(100, clock=clock)
    base = 1.03 / 100
    pacer.pause(1)
    pacer.pause(1)
    pacer._tat = 0.0
    first, second = pacer._global_slot(clock.now), pacer._global_slot(clock.now)
    assert second - first == pytest.approx(base * 1.10)
    clock.now += 30  # one half-life later
    pacer._tat = 0.0
    first, second = pacer._global_slot(clock.now), pacer._global_slot(clock.now)
    assert second - first == pytest.approx(base * 1.05)
    for _ in range(10):
        pacer.pause(1)
    assert pacer._slowdown(clock.now) == pytest.approx(0.25)


async def test_replies_go_before_queued_background_sends_which_keep_the_rate() -> None:
    pacer = Pacer(20)  # 51.5 ms apart
    done: dict[str, float] = {}
    start = time.monotonic()

    async def send(chat: str, background: bool) -> None:
        await pacer.wait(chat, background=background)
        done[chat] = time.monotonic() - start

    queued = [asyncio.create_task(send(f"b{i}", True)) for i in range(20)]  # ~1 s of sends
    await asyncio.sleep(0.2)
    await send("reply", False)
    await asyncio.gather(*queued)
    # The reply waited for the slots booked ahead (≤ BACKGROUND_AHEAD), not for the queue.
    assert done["reply"] < 0.2 + BACKGROUND_AHEAD + 0.1
    assert sum(1 for c, at in done.items() if c != "reply" and at < done["reply"]) < 12
    # The background sends still went at the full rate, one slot for the reply included.
    assert max(done.values()) == pytest.approx(20 * 1.03 / 20, abs=0.15)
