"""Refunds on the monitoring page and in /metrics: states over time, receipt latency, stuck refunds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Sum
from django.db.models.functions import TruncMinute
from django.urls import reverse
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from events.monitoring.dashboard import Chart, Line, Tile
from events.monitoring.flags import flags_open
from events.monitoring.history import bucket_of, bucket_starts, series_lines
from refundtool.models import Refund
from refundtool.monitoring import OPEN_STATUSES, REFUND_STATES_SERIES, SUBJECT
from refundtool.selectors import refunds_stuck_counts
from refundtool.states import FiscalStatus

LATENCY_BUCKETS = 60


def refund_states_chart(since: datetime, until: datetime) -> Chart:
    order = {status: index for index, status in enumerate(OPEN_STATUSES)}
    lines = sorted(
        series_lines(series=REFUND_STATES_SERIES, since=since, until=until),
        key=lambda line: order.get(line.label, len(order)),
    )
    return Chart(
        title="Refunds per state",
        unit="count",
        lines=lines,
        description="Refunds waiting in each open state (completed and cancelled are left out: they only grow).",
        gap_seconds=3 * settings.REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS,
    )


def receipt_latency_chart(since: datetime, until: datetime) -> Chart:
    """From the money leaving (refunded_at) to the receipt's registration time, by when the money left."""
    latency = ExpressionWrapper(F("receipt_datetime") - F("refunded_at"), output_field=DurationField())
    per_minute = (
        Refund.objects.filter(
            refunded_at__gte=since,
            refunded_at__lt=until,
            fiscal_status=FiscalStatus.DONE,
            receipt_datetime__isnull=False,
        )
        .annotate(minute=TruncMinute("refunded_at"))
        .values("minute")
        .annotate(count=Count("id"), slowest=Max(latency), total=Sum(latency))
        .order_by("minute")
    )
    count = [0] * LATENCY_BUCKETS
    slowest = [0.0] * LATENCY_BUCKETS
    total = [0.0] * LATENCY_BUCKETS
    for row in per_minute:
        index = bucket_of(max(row["minute"], since), since=since, until=until, count=LATENCY_BUCKETS)
        if index is None:
            continue
        count[index] += row["count"]
        slowest[index] = max(slowest[index], _seconds(row["slowest"]))
        total[index] += _seconds(row["total"])
    starts = bucket_starts(since=since, until=until, count=LATENCY_BUCKETS)
    filled = [index for index in range(LATENCY_BUCKETS) if count[index]]
    sla = settings.FISCAL_SLA_SECONDS
    return Chart(
        title="Fiscal receipt latency against the SLA",
        unit="seconds",
        lines=[
            Line("slowest receipt", [(starts[i], slowest[i]) for i in filled]),
            Line("average receipt", [(starts[i], total[i] / count[i]) for i in filled]),
        ],
        description="Time from the money leaving to the receipt's registration, for refunds whose receipt is "
        "done, by when the money left. Receipts still missing are counted under Stuck refunds (refunded).",
        threshold=float(sla),
        threshold_label=f"SLA {sla} s",
    )


def refunds_tiles(now: datetime) -> list[Tile]:
    counts = refunds_stuck_counts(now=now)
    total = sum(counts.values())
    flagged = flags_open(subject_type=SUBJECT).values("subject_id").distinct().count()
    return [
        Tile(
            label="Stuck refunds",
            value=str(total),
            level="err" if total else "ok",
            link=f"{reverse('admin:refundtool_refund_changelist')}?stuck=yes",
            note=", ".join(f"{status} {count}" for status, count in counts.items() if count) or "none",
        ),
        Tile(
            label="Flagged refunds",
            value=str(flagged),
            level="warn" if flagged else "ok",
            link=f"{reverse('admin:monitoring_flag_changelist')}?open=yes&subject_type={SUBJECT}",
            note="stuck, or Payment has not answered",
        ),
    ]


def stuck_refund_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "refundtool_refunds_stuck",
        "Refunds in a state for longer than REFUNDTOOL_STUCK_AFTER_SECONDS allows",
        labels=["state"],
    )
    for status, count in refunds_stuck_counts(now=timezone.now()).items():
        family.add_metric([status], count)
    yield family


def _seconds(value: timedelta | float | None) -> float:
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, timedelta) else float(value) / 1_000_000
