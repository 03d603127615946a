"""The statistics page's tables and charts by name, for one viewer's areas and period."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import catalogue, t
from bot.services import statistics as st
from bot.services import statistics_reach as reach
from bot.web.console import charts, labels
from storage.repos import areas

DAYS = (7, 30, 90, 365)
TABLES = ("tips_per_day", "tips_per_area", "response_times", "outcomes", "ratings",
          "arrivals_per_day", "broadcast_reach")
# chart name → the table it is drawn from
CHARTS = {"tips_per_day": "tips_per_day", "tips_per_area": "tips_per_area",
          "ack_times": "response_times", "close_times": "response_times",
          "outcomes": "outcomes", "ratings": "ratings", "arrivals_per_day": "arrivals_per_day",
          "broadcast_reach": "broadcast_reach"}


@dataclass
class Labels:
    """Readable names for the codes and ids in the tables."""

    lang: str
    categories: dict[str, str]
    areas: dict[int, str]

    def category(self, code: str) -> str:
        return t(self.lang, "console.stats.all") if code == "*" else \
            self.categories.get(code, code)

    def outcome(self, code: str) -> str:
        return t(self.lang, f"outcome.{code}") if code else "—"

    def head(self, column: str) -> str:
        """A column heading: a known measure, else a category code's name."""
        key = f"console.stats.col.{column}"
        return t(self.lang, key) if key in catalogue("vi") else self.category(column)

    def first(self, table: str, value: object) -> str:
        """The row label (first cell) of a table, readable."""
        if table == "tips_per_area":
            return self.areas.get(value, "—") if isinstance(value, int) else "—"
        if table == "response_times":
            return self.category(str(value))
        if table == "outcomes":
            return self.outcome(str(value))
        if table == "ratings":
            return "★" * int(str(value))
        return f"#{value}" if table == "broadcast_reach" else str(value)


async def table(db: AsyncSession, name: str, scope: set[int] | None, period: st.Period
                ) -> st.Table:
    if name == "tips_per_day":
        order = [c.code for c in await labels.category_list(db)]
        return await st.tips_per_day(db, scope, period, order)
    fn: dict[str, Callable[[AsyncSession, set[int] | None, st.Period], Awaitable[st.Table]]] = {
        "tips_per_area": st.tips_per_area, "response_times": st.response_times,
        "outcomes": st.outcomes, "ratings": st.ratings,
        "arrivals_per_day": reach.arrivals_per_day, "broadcast_reach": reach.broadcast_reach}
    return await fn[name](db, scope, period)


async def make_labels(db: AsyncSession, lang: str, tables: list[st.Table]) -> Labels:
    ids = [row[0] for tb in tables if tb.name == "tips_per_area" for row in tb.rows]
    return Labels(lang, await labels.category_names(db, lang),
                  await labels.area_labels(db, ids))


async def scoped(db: AsyncSession, scope: set[int] | None, area: str) -> set[int] | None:
    """Narrow the viewer's scope to one chosen area (ignored when outside the scope)."""
    if not area.isdigit():
        return scope
    chosen = await areas.descendant_ids(db, [int(area)])
    return chosen if scope is None else (chosen & scope if int(area) in scope else scope)


def svg(name: str, tb: st.Table, lb: Labels) -> bytes:
    tr = lambda key: t(lb.lang, f"console.stats.{key}")  # noqa: E731
    if name == "tips_per_day":
        cats = [c for c in tb.columns[1:] if c != "total"]
        return charts.per_day(tb, tr("tips_per_day"), [(c, lb.category(c)) for c in cats])
    if name == "tips_per_area":
        return charts.bars(tb, tr("tips_per_area"), "area_id", [("tips", tr("tips"))],
                           label=lambda a: lb.areas.get(a, "—"), horizontal=True)
    if name in ("ack_times", "close_times"):
        unit = "ack" if name == "ack_times" else "close"
        h = "min" if unit == "ack" else "h"
        return charts.bars(tb, tr(name), "category",
                           [(f"{unit}_median_{h}", tr("median")), (f"{unit}_p90_{h}", tr("p90"))],
                           label=lb.category, counts=False)
    if name == "outcomes":
        return charts.pie(tb, tr("outcomes"), "outcome", "cases", label=lb.outcome)
    if name == "ratings":
        return charts.bars(tb, tr("ratings"), "stars", [("cases", tr("cases"))],
                           label=lambda s: "★" * int(s))
    if name == "arrivals_per_day":
        return charts.per_day(tb, tr("arrivals_per_day"),
                              [("declarations", tr("declarations")), ("guests", tr("guests")),
                               ("late", tr("late"))], stacked=False)
    return charts.bars(tb, tr("broadcast_reach"), "broadcast",
                       [(s, tr(f"state_{s}")) for s in ("sent", "failed", "unreachable",
                                                        "pending")],
                       label=lambda b: f"#{b}", stacked=True)
