"""The events infrastructure's part of the monitoring page: consumer lag, responses, outbox."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q
from django.urls import reverse

from events.messaging.models import OutboxMessage
from events.monitoring.dashboard import Chart, Line, Tile
from events.monitoring.expectations import response_windows
from events.monitoring.history import CONSUMER_LAG_SERIES, RESPONSE_WINDOW_SERIES, series_lines
from events.monitoring.selectors import lag_snapshot

OUTBOX_WARN_SECONDS = 60
OUTBOX_ERR_SECONDS = 300


def consumer_lag_chart(since: datetime, until: datetime) -> Chart:
    return Chart(
        title="Consumer lag per group",
        unit="count",
        lines=series_lines(series=CONSUMER_LAG_SERIES, since=since, until=until),
        description="Messages each consumer group still has to read (its total lag), as the lag sampler saw it.",
        gap_seconds=3 * settings.REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS,
    )


FIGURE_COLOURS = {"sent": "#0072B2", "answered": "#009E73", "overdue": "#D55E00"}


def responses_chart(since: datetime, until: datetime) -> Chart:
    window = settings.REFUNDTOOL_RESPONSE_WINDOW_SECONDS
    figures = list(FIGURE_COLOURS)
    lines = sorted(
        series_lines(series=RESPONSE_WINDOW_SERIES, since=since, until=until),
        key=lambda line: (line.label.rsplit(" ", 1)[0], figures.index(line.label.rsplit(" ", 1)[-1])),
    )
    return Chart(
        title="Commands sent and answered",
        unit="count",
        lines=[
            Line(label=line.label, points=line.points, colour=FIGURE_COLOURS[line.label.rsplit(" ", 1)[-1]])
            for line in lines
        ],
        description=f"Per command type, in the {window} s before each check: commands sent, responses "
        "received, and commands past their deadline without a response.",
        gap_seconds=3 * settings.REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS,
    )


def events_tiles(now: datetime) -> list[Tile]:
    tiles = []
    backlog = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("created_at"), parked=Count("id", filter=Q(failed_at__isnull=False))
    )
    age = (now - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0
    tiles.append(
        Tile(
            label="Outbox backlog",
            value=str(backlog["count"]),
            level="err" if age > OUTBOX_ERR_SECONDS else "warn" if age > OUTBOX_WARN_SECONDS else "ok",
            note=f"oldest waiting {age:.0f} s" if backlog["count"] else "everything published",
        )
    )
    tiles.append(
        Tile(
            label="Outbox parked",
            value=str(backlog["parked"]),
            level="err" if backlog["parked"] else "ok",
            link=f"{reverse('admin:events_outboxmessage_changelist')}?parked=yes",
            note="refused by the broker for good: retry or skip" if backlog["parked"] else "nothing refused",
        )
    )
    expectations_url = reverse("admin:events_responseexpectation_changelist")
    for window in response_windows(now=now, window_seconds=settings.REFUNDTOOL_RESPONSE_WINDOW_SECONDS):
        tiles.append(
            Tile(
                label=f"Overdue: {window.command_type}",
                value=str(window.overdue),
                level="err" if window.overdue else "ok",
                link=f"{expectations_url}?state=overdue&command_type={window.command_type}",
                note=f"{window.open} waiting; last {window.window_seconds} s: {window.sent} sent, "
                f"{window.answered} answered",
            )
        )
    snapshot = lag_snapshot()
    troubled = [status for status in snapshot.statuses if status.status != "OK"]
    tiles.append(
        Tile(
            label="Consumer groups",
            value=f"{len(snapshot.statuses) - len(troubled)} OK / {len(snapshot.statuses)}",
            level="err" if any(status.status == "ERR" for status in troubled) else "warn" if troubled else "ok",
            link=reverse("monitoring:lag-list"),
            note=", ".join(f"{status.group} {status.status}" for status in troubled) or "all keeping up",
        )
    )
    return tiles
