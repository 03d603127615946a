"""A controllable clock for timers, deadlines and schedules in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **kw: float) -> datetime:
        self.now += delta or timedelta(**kw)
        return self.now
