"""What GET /metrics exposes: the metrics of every process, plus figures read at scrape time.

- Counters and histograms that processes record (HTTP, events consumed/produced/dead-lettered,
  consumer latency, the receipt SLA...) come from prometheus_client's multiprocess files, added up
  over all processes. A metric this process knows but no process has recorded yet is still
  declared (HELP and TYPE, no samples), so dashboards and alerts find every name from the start.
- Figures that live in the database or the lag store (outbox backlog, open and overdue responses,
  open flags, consumer lag, and what apps register, such as stuck refunds) are read by scrape
  collectors when Prometheus asks, so every web process answers the same.

Each scrape collector reports ``refundtool_metrics_collector_up{collector}``: 0 when it failed this
scrape (its figures are then missing), so an outage of the database cannot silence /metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from events.messaging.models import OutboxMessage
from events.monitoring.expectations import response_windows
from events.monitoring.models import Flag
from events.monitoring.multiprocess import multiprocess_active

logger = logging.getLogger(__name__)

# Families of prometheus_client's default collectors describe the one process that serves the scrape.
_PER_PROCESS_PREFIXES = ("process_", "python_")

_scrape_collectors: dict[str, Callable[[], Iterable[Metric]]] = {}


def register_scrape_collector(name: str, collect: Callable[[], Iterable[Metric]]) -> None:
    """Adds figures read at each scrape; `collect` yields metric families (and may raise)."""
    _scrape_collectors[name] = collect


def registered_scrape_collectors() -> dict[str, Callable[[], Iterable[Metric]]]:
    return dict(_scrape_collectors)


def metrics_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's recorded metrics and the scrape collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RecordedMetrics())
    registry.register(_ScrapeCollectors())
    return registry


class _RecordedMetrics(Collector):
    def collect(self) -> Iterator[Metric]:
        if not multiprocess_active():
            yield from REGISTRY.collect()
            return
        collected = list(MultiProcessCollector(None, path=str(settings.PROMETHEUS_MULTIPROC_DIR)).collect())
        yield from collected
        seen = {family.name for family in collected}
        for family in REGISTRY.collect():
            if family.name not in seen and not family.name.startswith(_PER_PROCESS_PREFIXES):
                yield Metric(family.name, family.documentation, family.type, family.unit)


class _ScrapeCollectors(Collector):
    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "refundtool_metrics_collector_up",
            "1 when the scrape-time collector answered, 0 when it failed",
            labels=["collector"],
        )
        for name, collect in sorted(_scrape_collectors.items()):
            try:
                families = list(collect())
            except Exception:
                logger.exception("scrape collector %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


# --- the scrape collectors of the events infrastructure ----------------------------------------------


def outbox_metrics() -> Iterator[Metric]:
    backlog = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("created_at"), parked=Count("id", filter=Q(failed_at__isnull=False))
    )
    size = GaugeMetricFamily("refundtool_outbox_backlog", "Outbox rows written but not yet published (parked included)")
    size.add_metric([], backlog["count"])
    parked = GaugeMetricFamily(
        "refundtool_outbox_parked", "Outbox rows the broker refused for good, waiting for an operator to retry or skip"
    )
    parked.add_metric([], backlog["parked"])
    oldest = GaugeMetricFamily(
        "refundtool_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when none)"
    )
    oldest.add_metric([], (timezone.now() - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0)
    yield from (size, parked, oldest)


def response_metrics() -> Iterator[Metric]:
    now = timezone.now()
    windows = response_windows(now=now, window_seconds=settings.REFUNDTOOL_RESPONSE_WINDOW_SECONDS)
    families = {
        "open": GaugeMetricFamily(
            "refundtool_responses_open", "Commands sent whose response has not arrived", labels=["command_type"]
        ),
        "overdue": GaugeMetricFamily(
            "refundtool_responses_overdue",
            "Commands whose response has not arrived by the deadline",
            labels=["command_type"],
        ),
        "oldest": GaugeMetricFamily(
            "refundtool_responses_oldest_open_age_seconds",
            "Age of the oldest command still waiting for its response (0 when none)",
            labels=["command_type"],
        ),
        "sent": GaugeMetricFamily(
            "refundtool_response_window_commands_sent",
            "Commands sent in the last REFUNDTOOL_RESPONSE_WINDOW_SECONDS",
            labels=["command_type"],
        ),
        "answered": GaugeMetricFamily(
            "refundtool_response_window_responses_received",
            "Responses to commands received in the last REFUNDTOOL_RESPONSE_WINDOW_SECONDS",
            labels=["command_type"],
        ),
    }
    for window in windows:
        labels = [window.command_type]
        families["open"].add_metric(labels, window.open)
        families["overdue"].add_metric(labels, window.overdue)
        oldest = window.oldest_open_sent_at
        families["oldest"].add_metric(labels, (now - oldest).total_seconds() if oldest else 0.0)
        families["sent"].add_metric(labels, window.sent)
        families["answered"].add_metric(labels, window.answered)
    yield from families.values()


def flag_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "refundtool_flags_open", "Open monitoring flags by subject type and kind", labels=["subject_type", "kind"]
    )
    for row in (
        Flag.objects.filter(cleared_at__isnull=True)
        .values("subject_type", "kind")
        .annotate(count=Count("id"))
        .order_by("subject_type", "kind")
    ):
        family.add_metric([row["subject_type"], row["kind"]], row["count"])
    yield family
