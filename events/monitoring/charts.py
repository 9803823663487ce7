"""Line charts as inline SVG, rendered on the server: no script, no external asset, printable.

Time runs left to right over the page's range; the value axis starts at zero and ends on a round
number above the highest value (or the threshold, so an SLA line is always in view). Each line ends
in a dot whose tooltip gives its last value; the legend repeats it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from events.monitoring.dashboard import Chart, Line

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 30
# Okabe-Ito: told apart by colour-blind readers too.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
THRESHOLD_COLOUR = "#C0392B"
TIME_STEPS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880)]
VALUE_TICKS = 4
# Steps of a seconds axis that read as round durations: 1 s ... 30 s, 1 min ... 30 min, 1 h ...
SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
# Points are drawn at most this many per line (the page's history may hold one a minute for two days).
MAX_POINTS = 240


def format_value(value: float, unit: str) -> str:
    if value == 0:
        return "0"
    if unit == "seconds":
        if value < 1:
            return f"{value * 1000:.0f} ms"
        if value < 120:
            return f"{value:.3g} s"
        if value < 7200:
            return f"{value / 60:.3g} min"
        return f"{value / 3600:.3g} h"
    if value == int(value):
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:.3g}"


def axis_step(highest: float, unit: str) -> float:
    """The round step between value ticks such that VALUE_TICKS of them reach `highest`."""
    wanted = max(highest, 0.0) / VALUE_TICKS
    if unit == "seconds" and wanted > 0.5:
        longest = SECOND_STEPS[-1]
        return float(next((step for step in SECOND_STEPS if step >= wanted), longest * math.ceil(wanted / longest)))
    if wanted <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(wanted))
    step = next(step * magnitude for step in (1, 2, 2.5, 5, 10) if wanted <= step * magnitude)
    return max(step, 1.0) if unit == "count" else step  # no half refunds on the axis


def thinned(points: list[tuple[datetime, float]], *, since: datetime, until: datetime) -> list[tuple[datetime, float]]:
    """At most MAX_POINTS: the highest point of each slice of the range, so a spike is never lost."""
    if len(points) <= MAX_POINTS:
        return points
    width = (until - since) / MAX_POINTS
    kept: dict[int, tuple[datetime, float]] = {}
    for at, value in points:
        index = int((at - since) / width)
        if index not in kept or value > kept[index][1]:
            kept[index] = (at, value)
    return [kept[index] for index in sorted(kept)]


def line_chart_svg(chart: Chart, *, since: datetime, until: datetime) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max((until - since).total_seconds(), 1.0)
    values = [value for line in chart.lines for _, value in line.points]
    step = axis_step(max([*values, chart.threshold or 0, 0]) * 1.05, chart.unit)
    top = step * VALUE_TICKS
    # Thinned points stand a slice apart: only a wider hole is a gap in the data.
    gap = None if chart.gap_seconds is None else max(chart.gap_seconds, 2.5 * span / MAX_POINTS)

    def x(at: datetime) -> float:
        return LEFT + plot_w * min(max((at - since).total_seconds() / span, 0.0), 1.0)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(max(value / top, 0.0), 1.0))

    title = escape(chart.title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="monitoring-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label={quoteattr(chart.title)}>',
        f"<title>{title}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#ccc"/>',
    ]
    for tick in range(VALUE_TICKS + 1):
        value = step * tick
        ty = y(value)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
            f"{escape(format_value(value, chart.unit))}</text>"
        )
    for at in _time_ticks(since, until):
        tx = x(at)
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#f2f2f2"/>')
        parts.append(
            f'<text x="{tx:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" fill="#555">'
            f"{at.strftime('%H:%M')}</text>"
        )
    if chart.threshold is not None:
        ty = y(chart.threshold)
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w - 4}" y="{ty - 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{THRESHOLD_COLOUR}">{escape(chart.threshold_label or format_value(chart.threshold, chart.unit))}'
            "</text>"
        )
    for index, line in enumerate(chart.lines):
        points = thinned(line.points, since=since, until=until)
        parts.extend(_line(line.label, points, _colour(line, index), x, y, unit=chart.unit, gap_seconds=gap))
    if not values:
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="13" '
            'fill="#888">No data in this range yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def legend(chart: Chart) -> list[tuple[str, str, str]]:
    """(colour, label, last value) per line, for the page to print under the chart."""
    return [
        (
            _colour(line, index),
            line.label,
            format_value(line.points[-1][1], chart.unit) if line.points else "no data",
        )
        for index, line in enumerate(chart.lines)
    ]


def _colour(line: Line, index: int) -> str:
    return line.colour or PALETTE[index % len(PALETTE)]


def _line(
    label: str,
    points: list[tuple[datetime, float]],
    colour: str,
    x: Callable[[datetime], float],
    y: Callable[[float], float],
    *,
    unit: str,
    gap_seconds: float | None,
) -> list[str]:
    if not points:
        return []
    segments: list[list[tuple[datetime, float]]] = [[points[0]]]
    for previous, point in itertools.pairwise(points):
        if gap_seconds is not None and (point[0] - previous[0]).total_seconds() > gap_seconds:
            segments.append([])
        segments[-1].append(point)
    parts = [f'<g class="line" data-label={quoteattr(label)}>']
    for segment in segments:
        coordinates = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in segment)
        parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
        )
        if len(segment) == 1:  # a lone point between two gaps would not show as a line
            parts.append(f'<circle cx="{x(segment[0][0]):.1f}" cy="{y(segment[0][1]):.1f}" r="2" fill="{colour}"/>')
    last_at, last_value = points[-1]
    parts.append(
        f'<circle cx="{x(last_at):.1f}" cy="{y(last_value):.1f}" r="3" fill="{colour}">'
        f"<title>{escape(label)}: {escape(format_value(last_value, unit))} at "
        f"{last_at.strftime('%H:%M:%S')}</title></circle>"
    )
    parts.append("</g>")
    return parts


def _time_ticks(since: datetime, until: datetime) -> list[datetime]:
    span = until - since
    step = next((s for s in TIME_STEPS if span / s <= 8), TIME_STEPS[-1])
    step_seconds = int(step.total_seconds())
    first = math.ceil(since.timestamp() / step_seconds) * step_seconds
    ticks = []
    at = since + timedelta(seconds=first - since.timestamp())
    while at <= until:
        ticks.append(at)
        at += step
    return ticks
