"""Charts drawn on the server with pygal, as SVG that needs no script and no internet.

Each chart is drawn from the same :class:`~bot.services.statistics.Table` that the page
shows beside it and that the CSV download writes, so the picture and the numbers agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pygal
from pygal.style import Style

from bot.services.statistics import Table

STYLE = Style(background="white", plot_background="white", foreground="#222",
              foreground_strong="#111", foreground_subtle="#666", font_family="sans-serif",
              colors=("#1f6f8b", "#e07a1f", "#3b9b4a", "#c0392b", "#7d5ba6", "#8c6d1f",
                      "#2c3e50", "#d35400", "#16a085", "#7f8c8d", "#9b59b6", "#34495e"),
              title_font_size=16, label_font_size=11, legend_font_size=11)


def _config(title: str, **kw: Any) -> dict[str, Any]:
    # js=[]: pygal would otherwise reference its tooltip script on a CDN.
    return {"title": title, "style": STYLE, "js": [], "width": 720, "height": 360,
            "legend_at_bottom": True, "print_values": False, "show_y_guides": True,
            "no_data_text": "—", "truncate_legend": 30, "x_label_rotation": 30, **kw}


def _counts(chart: Any, top: float) -> None:
    """Whole-number ticks for counts (pygal would otherwise label 0.2, 0.4…)."""
    step = max(1, math.ceil(top / 8))
    chart.y_labels = list(range(0, int(top) + step + 1, step))


def _col(table: Table, name: str) -> list[Any]:
    i = table.columns.index(name)
    return [row[i] for row in table.rows]


def per_day(table: Table, title: str, series: list[tuple[str, str]],
            stacked: bool = True) -> bytes:
    """Bars per day (stacked: parts of a whole); ``series`` are (column, legend label)."""
    kind = pygal.StackedBar if stacked else pygal.Bar
    chart = kind(**_config(title, show_minor_x_labels=len(table.rows) <= 14))
    days = _col(table, "day")
    chart.x_labels = [d[5:] for d in days]  # "11-23"
    chart.x_labels_major = chart.x_labels[::7]
    for column, label in series:
        chart.add(label, _col(table, column))
    sums = [sum(vals) for vals in zip(*(_col(table, c) for c, _ in series), strict=True)] \
        if stacked else [max(vals) for vals in zip(*(_col(table, c) for c, _ in series),
                                                      strict=True)]
    _counts(chart, max(sums, default=0))
    return bytes(chart.render())


def bars(table: Table, title: str, label_col: str, series: list[tuple[str, str]],
         label: Callable[[Any], str] = str, horizontal: bool = False,
         stacked: bool = False, counts: bool = True) -> bytes:
    kind = pygal.HorizontalBar if horizontal else pygal.StackedBar if stacked else pygal.Bar
    chart = kind(**_config(title))
    chart.x_labels = [label(v) for v in _col(table, label_col)]
    columns = [[v if v is not None else None for v in _col(table, c)] for c, _ in series]
    for (_column, legend), values in zip(series, columns, strict=True):
        chart.add(legend, values)
    if counts:
        rows = list(zip(*columns, strict=True))
        _counts(chart, max((sum(v or 0 for v in r) if stacked else max((v or 0 for v in r),
                                                                       default=0)
                            for r in rows), default=0))
    return bytes(chart.render())


def pie(table: Table, title: str, label_col: str, value_col: str,
        label: Callable[[Any], str] = str) -> bytes:
    chart = pygal.Pie(**_config(title, inner_radius=0.4))
    for name, value in zip(_col(table, label_col), _col(table, value_col), strict=True):
        chart.add(label(name), value)
    return bytes(chart.render())
