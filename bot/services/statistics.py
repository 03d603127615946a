"""Figures about tips for staff and the open API: counts, response times, outcomes, ratings.

Every function takes the areas the viewer may see (``None``: all) and a period of local
days, and returns a :class:`Table` of plain numbers with no personal data: the same table
feeds a chart, the table beside it, its CSV download and the API. Grouping happens in
Python so SQLite and PostgreSQL give identical answers.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import Case

KINDS = ("tip", "sos")


@dataclass(frozen=True)
class Period:
    """Whole local days up to now: ``start`` is local midnight, both ends in UTC."""

    start: datetime
    end: datetime
    tz: ZoneInfo

    @classmethod
    def last_days(cls, days: int, now: datetime, tz: ZoneInfo) -> Period:
        first = now.astimezone(tz).date() - timedelta(days=max(days, 1) - 1)
        return cls(datetime.combine(first, time(0), tz).astimezone(UTC), now, tz)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def days(self) -> list[date]:
        first, last = self.day_of(self.start), self.day_of(self.end)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def to_csv(self) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buf.getvalue().encode("utf-8-sig")  # the BOM lets Excel read the accents

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, "inclusive")."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _scoped(stmt: Select[Any], scope: set[int] | None) -> Select[Any]:
    return stmt if scope is None else stmt.where(Case.area_id.in_(scope))


async def _created(db: AsyncSession, scope: set[int] | None, period: Period) -> list[Case]:
    stmt = select(Case).where(Case.kind.in_(KINDS), Case.created_at >= period.start,
                              Case.created_at <= period.end).order_by(Case.id)
    return list((await db.execute(_scoped(stmt, scope))).scalars())


async def _closed(db: AsyncSession, scope: set[int] | None, period: Period) -> list[Case]:
    stmt = select(Case).where(Case.kind.in_(KINDS), Case.status == "closed",
                              Case.closed_at >= period.start, Case.closed_at <= period.end)
    return list((await db.execute(_scoped(stmt.order_by(Case.id), scope))).scalars())


async def tips_per_day(db: AsyncSession, scope: set[int] | None, period: Period,
                       order: list[str]) -> Table:
    """Tips received per local day and category (``order``: category codes to list)."""
    rows = await _created(db, scope, period)
    seen = {c.category_code for c in rows}
    cats = [c for c in order if c in seen] + sorted(seen - set(order))
    counts = Counter((period.day_of(c.created_at), c.category_code) for c in rows)
    table = Table("tips_per_day", ["day", *cats, "total"])
    for day in period.days():
        per = [counts[(day, cat)] for cat in cats]
        table.rows.append([day.isoformat(), *per, sum(per)])
    return table


async def tips_per_area(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Tips received per area (the village, or the commune when no village was given)."""
    counts = Counter(c.area_id for c in await _created(db, scope, period))
    table = Table("tips_per_area", ["area_id", "tips"])
    table.rows = [[a, n] for a, n in sorted(counts.items(), key=lambda x: (-x[1], x[0] or 0))]
    return table


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


async def response_times(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Minutes to acknowledge and hours to close, median and 90th percentile, per category
    (tips received in the period), with an all-categories row ``*`` first."""
    rows = await _created(db, scope, period)
    table = Table("response_times", ["category", "received", "acknowledged", "ack_median_min",
                                     "ack_p90_min", "closed", "close_median_h", "close_p90_h"])
    groups: dict[str, list[Case]] = {"*": rows}
    for c in rows:
        groups.setdefault(c.category_code, []).append(c)
    for cat, cases in groups.items():
        ack = [_minutes(c.created_at, c.acknowledged_at) for c in cases if c.acknowledged_at]
        done = [_minutes(c.created_at, c.closed_at) / 60 for c in cases if c.closed_at]
        table.rows.append([cat, len(cases), len(ack), _r(percentile(ack, 50)),
                           _r(percentile(ack, 90)),
                           len(done), _r(percentile(done, 50)), _r(percentile(done, 90))])
    return table


async def outcomes(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Cases closed in the period, per outcome."""
    counts = Counter(c.outcome or "" for c in await _closed(db, scope, period))
    return Table("outcomes", ["outcome", "cases"], [[o, n] for o, n in counts.most_common()])


async def ratings(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Residents' 1–5 ratings of cases closed in the period."""
    counts = Counter(c.rating for c in await _closed(db, scope, period) if c.rating)
    return Table("ratings", ["stars", "cases"], [[s, counts[s]] for s in range(1, 6)])
