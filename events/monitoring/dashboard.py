"""The monitoring page's content: charts and tiles that apps register, so that events stays free of them.

A chart provider answers one Chart for a time range; a tile provider answers the tiles of the
moment (a figure, how worrying it is, and where to look next). A provider that fails shows as a
failed panel: one broken query must not take the page down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

logger = logging.getLogger(__name__)

Unit = Literal["count", "seconds"]
Level = Literal["ok", "warn", "err"]


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    points: list[tuple[datetime, float]]  # oldest first
    colour: str | None = None  # the chart's palette unless a meaning asks for one (red for overdue)


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    unit: Unit
    lines: list[Line]
    description: str = ""
    threshold: float | None = None  # drawn as a dashed line, e.g. an SLA
    threshold_label: str = ""
    # Points further apart than this are not joined: a sampler that stopped shows as a gap.
    gap_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Tile:
    label: str
    value: str
    level: Level = "ok"
    link: str = ""
    note: str = ""


ChartProvider = Callable[[datetime, datetime], Chart]
TileProvider = Callable[[datetime], list[Tile]]


@dataclass(frozen=True, slots=True)
class Panel:
    name: str
    chart: Chart | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: datetime
    until: datetime
    tiles: list[Tile] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)


_charts: dict[str, tuple[int, ChartProvider]] = {}
_tiles: dict[str, tuple[int, TileProvider]] = {}


def register_chart(name: str, provider: ChartProvider, *, order: int = 100) -> None:
    _charts[name] = (order, provider)


def register_tiles(name: str, provider: TileProvider, *, order: int = 100) -> None:
    _tiles[name] = (order, provider)


def _in_order(registry: dict[str, tuple[int, Any]]) -> list[tuple[str, Any]]:
    """(name, provider) by order, then name: the order the page shows them in."""
    return [(name, provider) for name, (_, provider) in sorted(registry.items(), key=lambda i: (i[1][0], i[0]))]


def registered_panels() -> dict[str, list[str]]:
    return {"tiles": [name for name, _ in _in_order(_tiles)], "charts": [name for name, _ in _in_order(_charts)]}


def dashboard_build(*, since: datetime, until: datetime) -> Dashboard:
    tiles: list[Tile] = []
    for name, provider in _in_order(_tiles):
        try:
            tiles.extend(provider(until))
        except Exception as exc:
            logger.exception("monitoring tiles %s failed", name)
            tiles.append(Tile(label=name, value="unavailable", level="err", note=f"{type(exc).__name__}: {exc}"))
    panels = []
    for name, provider in _in_order(_charts):
        try:
            panels.append(Panel(name=name, chart=provider(since, until)))
        except Exception as exc:
            logger.exception("monitoring chart %s failed", name)
            panels.append(Panel(name=name, chart=None, error=f"{type(exc).__name__}: {exc}"))
    return Dashboard(since=since, until=until, tiles=tiles, panels=panels)
