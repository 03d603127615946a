"""The rate lease among workers (bot.workers): which lanes a worker claims and what share of
the rate it paces at, through joins, departures, settling and fencing (a fake clock; the
database part is in tests/integration/test_scale_workers.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql

from bot.workers import DEAD_AFTER, View, Workers, lane_filter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def sql(clause: Any) -> str:
    if clause is None:
        return "ALL"
    return str(clause.compile(dialect=postgresql.dialect(),
                              compile_kwargs={"literal_binds": True})).replace("%%", "%")


def worker(clock: Clock, shares: list[int]) -> Workers:
    w = Workers(db=None, name="w", role="worker", heartbeat=1.0, settle=5.0,  # type: ignore[arg-type]
                on_share=shares.append, clock=clock)
    w._beat_ok = clock.t
    return w


def beat(w: Workers, clock: Clock, view: View) -> None:
    w._beat_ok = clock.t
    w.observe(view)
    w._share()


def test_lane_filter_is_the_intersection_of_the_views() -> None:
    assert lane_filter([View(1, 0)]) is None
    assert sql(lane_filter([View(3, 2)])) == "deliveries.lane % 3 = 2"
    assert sql(lane_filter([View(2, 1), View(3, 0)])) == \
        "deliveries.lane % 2 = 1 AND deliveries.lane % 3 = 0"
    assert sql(lane_filter([View(2, 0), View(2, None)])) == "false"


def test_the_lanes_of_n_workers_cover_every_lane_once() -> None:
    for n in (1, 2, 3, 4, 7):
        owners = [[k for k in range(n) if lane % n == k] for lane in range(1024)]
        assert all(len(o) == 1 for o in owners)


def test_a_lone_first_worker_claims_everything_at_full_rate_at_once() -> None:
    clock, shares = Clock(), []
    w = worker(clock, shares)
    beat(w, clock, View(1, 0))
    assert w.lanes() is None and shares == [1]


def test_a_newcomer_claims_nothing_until_the_others_have_slowed_down() -> None:
    clock, shares = Clock(), []
    w = worker(clock, shares)
    beat(w, clock, View(3, 2))
    assert sql(w.lanes()) == "false" and shares == [3]
    clock.t += 4.9
    beat(w, clock, View(3, 2))
    assert sql(w.lanes()) == "false"
    clock.t += 0.2
    beat(w, clock, View(3, 2))
    assert sql(w.lanes()) == "deliveries.lane % 3 = 2" and shares == [3]


def test_on_a_join_a_worker_slows_down_at_once_and_keeps_only_lanes_it_had() -> None:
    clock, shares = Clock(), []
    w = worker(clock, shares)
    beat(w, clock, View(1, 0))
    clock.t += 60
    beat(w, clock, View(2, 0))  # another worker joined (started later: index 1)
    assert shares == [1, 2]
    assert sql(w.lanes()) == "deliveries.lane % 2 = 0"  # a subset of "all": no wait needed
    beat(w, clock, View(3, 1))  # a third one, started earlier than… (a restart reorders)
    assert shares == [1, 2, 3]
    assert sql(w.lanes()) == "deliveries.lane % 2 = 0 AND deliveries.lane % 3 = 1"
    clock.t += 5.1
    beat(w, clock, View(3, 1))
    assert sql(w.lanes()) == "deliveries.lane % 3 = 1"


def test_after_a_departure_lanes_and_rate_are_taken_over_only_once_settled() -> None:
    clock, shares = Clock(), []
    w = worker(clock, shares)
    beat(w, clock, View(3, 1))
    clock.t += 60
    beat(w, clock, View(3, 1))
    beat(w, clock, View(2, 1))  # worker 0 died (or left)
    assert shares == [3]  # still a third of the rate …
    assert sql(w.lanes()) == "deliveries.lane % 2 = 1 AND deliveries.lane % 3 = 1"
    for _ in range(5):
        clock.t += 1.0
        beat(w, clock, View(2, 1))
    clock.t += 0.1
    beat(w, clock, View(2, 1))
    assert shares == [3, 2]  # … until settled: then half, and its new lanes
    assert sql(w.lanes()) == "deliveries.lane % 2 = 1"


def test_a_worker_that_cannot_beat_stops_claiming_before_the_others_count_it_dead() -> None:
    clock, shares = Clock(), []
    w = worker(clock, shares)
    beat(w, clock, View(2, 0))
    clock.t += 10
    beat(w, clock, View(2, 0))
    assert sql(w.lanes()) == "deliveries.lane % 2 = 0"
    clock.t += (DEAD_AFTER - 1) * w.heartbeat + 0.01  # beats failed meanwhile
    assert sql(w.lanes()) == "false"
    beat(w, clock, View(2, 0))
    assert sql(w.lanes()) == "deliveries.lane % 2 = 0"


def test_no_view_yet_means_no_claims() -> None:
    clock = Clock()
    w = Workers(db=None, name="w", role="worker", clock=clock)  # type: ignore[arg-type]
    assert sql(w.lanes()) == "false" and w.share() == 1
