"""Time series for the monitoring page: figures sampled periodically into the Sample table.

What the database cannot tell afterwards (how many refunds were in a state at 10:05, a group's lag
at 10:05) is sampled by a beat task; history older than REFUNDTOOL_MONITORING_HISTORY_HOURS is pruned by the
pass that writes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.monitoring.dashboard import Line
from events.monitoring.models import Sample
from events.monitoring.selectors import lag_snapshot

CONSUMER_LAG_SERIES = "consumer_group_lag"
RESPONSE_WINDOW_SERIES = "response_window"


def samples_record(*, series: str, values: Mapping[str, float], at: datetime) -> list[Sample]:
    """Records one point per label of a series, and prunes the series' history past its retention."""
    with transaction.atomic():
        Sample.objects.filter(
            series=series, at__lt=at - timedelta(hours=settings.REFUNDTOOL_MONITORING_HISTORY_HOURS)
        ).delete()
        return Sample.objects.bulk_create(
            Sample(series=series, label=label, value=float(value), at=at) for label, value in values.items()
        )


def series_lines(*, series: str, since: datetime, until: datetime) -> list[Line]:
    """The series' points in the range, one line per label, by label."""
    points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for label, at, value in (
        Sample.objects.filter(series=series, at__gte=since, at__lte=until)
        .order_by("at")
        .values_list("label", "at", "value")
    ):
        points[label].append((at, value))
    return [Line(label=label, points=points[label]) for label in sorted(points)]


def lag_history_record(*, now: datetime | None = None) -> list[Sample]:
    """Records each consumer group's total lag as the lag sampler last evaluated it.

    A group the sampler no longer sees gets no point, so its line ends where it left.
    """
    snapshot = lag_snapshot()
    values = {status.group: float(status.totallag) for status in snapshot.statuses}
    return samples_record(series=CONSUMER_LAG_SERIES, values=values, at=now or timezone.now())


def bucket_starts(*, since: datetime, until: datetime, count: int) -> list[datetime]:
    step = (until - since) / count
    return [since + step * index for index in range(count)]


def bucket_of(at: datetime, *, since: datetime, until: datetime, count: int) -> int | None:
    """The index of the bucket `at` falls in, or None outside the range."""
    if at < since or at >= until:
        return None
    return min(count - 1, int((at - since) / ((until - since) / count)))
