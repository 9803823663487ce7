"""The server-rendered SVG charts: scales, gaps, thresholds, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from events.monitoring.charts import MAX_POINTS, axis_step, format_value, legend, line_chart_svg, thinned
from events.monitoring.dashboard import Chart, Line

SVG = "{http://www.w3.org/2000/svg}"
UNTIL = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=1)


def minutes(*values: float, start: int = 0) -> list[tuple[datetime, float]]:
    return [(SINCE + timedelta(minutes=start + index), value) for index, value in enumerate(values)]


def render(chart: Chart) -> ET.Element:
    return ET.fromstring(line_chart_svg(chart, since=SINCE, until=UNTIL))  # noqa: S314 - our own output


@pytest.mark.parametrize(
    ("highest", "unit", "step"),
    [
        (0, "count", 1),
        (3, "count", 1),
        (110, "count", 50),
        (1000, "count", 250),
        (130, "seconds", 60),
        (7, "seconds", 2),
    ],
)
def test_axis_steps_are_round(highest, unit, step):
    assert axis_step(highest, unit) == step


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0, "seconds", "0"),
        (0.25, "seconds", "250 ms"),
        (45, "seconds", "45 s"),
        (300, "seconds", "5 min"),
        (1234, "count", "1\u202f234"),
    ],
)
def test_values_read_in_their_unit(value, unit, text):
    assert format_value(value, unit) == text


def test_a_line_breaks_where_its_sampler_stopped():
    points = minutes(1, 2, 3) + minutes(4, 5, start=30)
    svg = render(Chart(title="t", unit="count", lines=[Line("a", points)], gap_seconds=180))
    polylines = list(svg.iter(f"{SVG}polyline"))
    assert [len(p.get("points").split()) for p in polylines] == [3, 2]


def test_a_lone_point_between_gaps_is_still_drawn():
    points = minutes(1) + minutes(2, start=30) + minutes(3, start=50)
    svg = render(Chart(title="t", unit="count", lines=[Line("a", points)], gap_seconds=180))
    assert len([c for c in svg.iter(f"{SVG}circle") if c.get("r") == "2"]) == 3


def test_the_threshold_is_in_view_even_above_every_value():
    svg = render(
        Chart(title="t", unit="seconds", lines=[Line("a", minutes(5, 10))], threshold=120, threshold_label="SLA")
    )
    [threshold] = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "threshold"]
    assert float(threshold.get("y1")) > 14  # below the top edge of the plot
    assert "SLA" in ET.tostring(svg).decode()


def test_labels_are_escaped():
    chart = Chart(title="<b>lag</b>", unit="count", lines=[Line('group "x" <script>', minutes(1))])
    text = line_chart_svg(chart, since=SINCE, until=UNTIL)
    assert "<script>" not in text
    assert "<b>" not in text
    assert render(chart).find(f"{SVG}title").text == "<b>lag</b>"


def test_an_empty_chart_says_so():
    assert "No data in this range yet" in line_chart_svg(
        Chart(title="t", unit="count", lines=[]), since=SINCE, until=UNTIL
    )


def test_long_series_are_thinned_keeping_spikes():
    points = [(SINCE + timedelta(seconds=index), 1.0) for index in range(3600)]
    points[1234] = (points[1234][0], 99.0)
    kept = thinned(points, since=SINCE, until=UNTIL)
    assert len(kept) <= MAX_POINTS
    assert max(value for _, value in kept) == 99.0


def test_the_legend_gives_each_line_its_colour_and_last_value():
    chart = Chart(title="t", unit="count", lines=[Line("a", minutes(1, 2)), Line("b", [], colour="#D55E00")])
    assert legend(chart) == [("#0072B2", "a", "2"), ("#D55E00", "b", "no data")]
