"""Server-rendered SVG charts for numbers people compare over time.

Views build a chart with :func:`line_chart` or :func:`bar_chart` and pass it to
``{% include "includes/chart.html" with chart=chart %}``. The include draws the SVG
(no script, so it works under a strict content security policy and in print), a
legend, and the same numbers in a table for screen readers and for anyone who wants
the exact figures. Series differ by line dash and marker as well as colour, so the
chart never relies on colour alone.

All geometry is computed here, in a fixed ``viewBox``; the SVG scales to the page's
width. Labels and titles are whatever the caller passes (translate them there).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 640
HEIGHT = 260
LEFT = 64  # room for the value axis labels
RIGHT = 12
TOP = 12
BOTTOM = 40  # room for the category labels
MAX_X_LABELS = 8
SERIES_STYLES = 6  # .series-0 ... .series-5 in citychain.css
_ids = itertools.count(1)  # element ids unique on a page (and in this process)


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int | float | None]


@dataclass
class Chart:
    kind: str  # "line" or "bar"
    title: str
    unit: str
    labels: list[str]
    series: list[dict]
    y_ticks: list[dict]
    x_ticks: list[dict]
    zero_y: float
    rows: list[dict]  # the table: label and one value per series
    width: int = WIDTH
    height: int = HEIGHT
    plot: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: f"chart-{next(_ids)}")

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def empty(self) -> bool:
        return not any(v is not None for s in self.series for v in s["values"])


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `target_ticks` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power  # pragma: no cover - the loop always returns


def _format(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _bounds(values: list[float], stacked_tops: list[float] | None = None) -> tuple[float, float]:
    candidates = values + (stacked_tops or [])
    low = min([0.0, *candidates])
    high = max([0.0, *candidates])
    if low == high:
        high = low + 1
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.label!r} has {len(s.values)} values for {len(labels)} labels"
            )


def _axes(labels, low, high, plot_w, plot_h, x_of):
    step = nice_step(high - low)

    def y_of(value: float) -> float:
        return TOP + plot_h - (value - low) / (high - low) * plot_h

    y_ticks = []
    tick = low
    while tick <= high + step / 1000:
        y_ticks.append({"y": round(y_of(tick), 1), "label": _format(round(tick, 6))})
        tick += step
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    x_ticks = [
        {"x": round(x_of(i), 1), "label": label} for i, label in enumerate(labels) if i % every == 0
    ]
    return y_of, y_ticks, x_ticks


def _rows(labels, series) -> list[dict]:
    return [
        {
            "label": label,
            "values": [None if s.values[i] is None else _format(s.values[i]) for s in series],
        }
        for i, label in enumerate(labels)
    ]


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, unit: str) -> Chart:
    """One line per series over the labels (days, intervals, months); None leaves a gap."""
    _check(labels, series)
    labels = [str(label) for label in labels]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [float(v) for s in series for v in s.values if v is not None]
    low, high = _bounds(values)

    def x_of(i: int) -> float:
        return LEFT + (plot_w / 2 if len(labels) == 1 else i * plot_w / (len(labels) - 1))

    y_of, y_ticks, x_ticks = _axes(labels, low, high, plot_w, plot_h, x_of)
    drawn = []
    for n, s in enumerate(series):
        segments, current, points = [], [], []
        for i, v in enumerate(s.values):
            if v is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            x, y = round(x_of(i), 1), round(y_of(float(v)), 1)
            current.append(f"{x},{y}")
            points.append({"x": x, "y": y})
        if current:
            segments.append(" ".join(current))
        drawn.append(
            {
                "label": s.label,
                "style": f"series-{n % SERIES_STYLES}",
                "values": list(s.values),
                "segments": segments,
                # markers only where they stay readable
                "points": points if len(labels) <= 40 else [],
            }
        )
    return Chart(
        kind="line",
        title=title,
        unit=unit,
        labels=labels,
        series=drawn,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        zero_y=round(y_of(0), 1),
        rows=_rows(labels, series),
        plot={"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM},
    )


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str,
    stacked: bool = False,
) -> Chart:
    """Bars per label: side by side for several series, or stacked (positive and negative
    values stack away from zero separately)."""
    _check(labels, series)
    labels = [str(label) for label in labels]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [float(v) for s in series for v in s.values if v is not None]
    tops: list[float] = []
    if stacked:
        for i in range(len(labels)):
            column = [float(s.values[i]) for s in series if s.values[i] is not None]
            tops += [sum(v for v in column if v > 0), sum(v for v in column if v < 0)]
    low, high = _bounds(values, tops)
    slot = plot_w / max(1, len(labels))

    def x_of(i: int) -> float:
        return LEFT + (i + 0.5) * slot

    y_of, y_ticks, x_ticks = _axes(labels, low, high, plot_w, plot_h, x_of)
    group = slot * 0.8
    bar_w = group if stacked else group / max(1, len(series))
    up = [0.0] * len(labels)
    down = [0.0] * len(labels)
    drawn = []
    for n, s in enumerate(series):
        bars = []
        for i, v in enumerate(s.values):
            if v is None or v == 0:
                continue
            v = float(v)
            if stacked:
                base = up[i] if v > 0 else down[i]
                end = base + v
                if v > 0:
                    up[i] = end
                else:
                    down[i] = end
                x = LEFT + i * slot + (slot - group) / 2
            else:
                base, end = 0.0, v
                x = LEFT + i * slot + (slot - group) / 2 + n * bar_w
            y_top, y_bottom = y_of(max(base, end)), y_of(min(base, end))
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y_top, 1),
                    "width": round(max(bar_w - 1, 1), 1),
                    "height": round(max(y_bottom - y_top, 0.5), 1),
                    "label": labels[i],
                    "value": _format(v),
                }
            )
        drawn.append(
            {
                "label": s.label,
                "style": f"series-{n % SERIES_STYLES}",
                "values": list(s.values),
                "bars": bars,
            }
        )
    return Chart(
        kind="bar",
        title=title,
        unit=unit,
        labels=labels,
        series=drawn,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        zero_y=round(y_of(0), 1),
        rows=_rows(labels, series),
        plot={"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM},
    )
