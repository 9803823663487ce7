"""Prometheus gauges of consumer lag, computed from the stored windows at each scrape.

A scrape collector (events.monitoring.collectors) rather than gauges set by the sampler: the
sampler runs in a Celery worker, /metrics is served by the web processes, and the store is what
they share. Status codes are Burrow's
(NOTFOUND=0, OK=1, WARN=2, ERR=3, STOP=4, STALL=5, REWIND=6).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import partial

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from events.monitoring.lag import STATUS_CODES
from events.monitoring.selectors import LagSnapshot, lag_snapshot

logger = logging.getLogger(__name__)

_group_gauge = partial(GaugeMetricFamily, labels=["cluster", "consumer_group"])
_partition_gauge = partial(GaugeMetricFamily, labels=["cluster", "consumer_group", "topic", "partition"])


@dataclass(slots=True)
class _LagFamilies:
    last_sample: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            "kafka_consumer_lag_last_sample_timestamp_seconds",
            "When the lag sampler last read the cluster (Unix time)",
            labels=["cluster"],
        )
    )
    group_status: GaugeMetricFamily = field(
        default_factory=lambda: _group_gauge(
            "kafka_consumer_group_status", "Burrow status of the group: 0 NOTFOUND, 1 OK, 2 WARN, 3 ERR"
        )
    )
    group_complete: GaugeMetricFamily = field(
        default_factory=lambda: _group_gauge(
            "kafka_consumer_group_complete", "Share of the group's partitions whose evaluation window is full"
        )
    )
    group_partitions: GaugeMetricFamily = field(
        default_factory=lambda: _group_gauge("kafka_consumer_group_partitions", "Partitions the group committed on")
    )
    group_total_lag: GaugeMetricFamily = field(
        default_factory=lambda: _group_gauge(
            "kafka_consumer_group_total_lag", "Sum of the current lag of the group's partitions"
        )
    )
    group_max_lag: GaugeMetricFamily = field(
        default_factory=lambda: _group_gauge(
            "kafka_consumer_group_max_lag", "Current lag of the group's most lagging partition"
        )
    )
    partition_status: GaugeMetricFamily = field(
        default_factory=lambda: _partition_gauge(
            "kafka_consumer_partition_status", "Burrow status of the partition: 1 OK, 2 WARN, 4 STOP, 5 STALL, 6 REWIND"
        )
    )
    partition_lag: GaugeMetricFamily = field(
        default_factory=lambda: _partition_gauge(
            "kafka_consumer_partition_lag", "Messages between the partition's high watermark and the committed offset"
        )
    )
    partition_offset: GaugeMetricFamily = field(
        default_factory=lambda: _partition_gauge(
            "kafka_consumer_partition_current_offset", "The group's last committed offset on the partition"
        )
    )

    def all(self) -> list[GaugeMetricFamily]:
        return [getattr(self, f.name) for f in fields(self)]

    def fill(self, snapshot: LagSnapshot, cluster: str) -> None:
        if snapshot.sampled_at_ms is not None:
            self.last_sample.add_metric([cluster], snapshot.sampled_at_ms / 1000)
        for status in snapshot.statuses:
            labels = [cluster, status.group]
            self.group_status.add_metric(labels, STATUS_CODES[status.status])
            self.group_complete.add_metric(labels, status.complete)
            self.group_partitions.add_metric(labels, status.partition_count)
            self.group_total_lag.add_metric(labels, status.totallag)
            if status.maxlag is not None and status.maxlag.current_lag is not None:
                self.group_max_lag.add_metric(labels, status.maxlag.current_lag)
            for partition in status.partitions:
                partition_labels = [*labels, partition.topic, str(partition.partition)]
                self.partition_status.add_metric(partition_labels, STATUS_CODES[partition.status])
                if partition.current_lag is not None:
                    self.partition_lag.add_metric(partition_labels, partition.current_lag)
                if partition.end is not None:
                    self.partition_offset.add_metric(partition_labels, partition.end["offset"])


class ConsumerLagCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        # Declared without samples, so registering never reads the store.
        return iter(_LagFamilies().all())

    def collect(self) -> Iterator[Metric]:
        families = _LagFamilies()
        try:
            families.fill(lag_snapshot(), settings.KAFKA_CLUSTER_NAME)
        except Exception:  # a store outage must not take the other metrics down with it
            logger.exception("reading consumer lag for /metrics")
            families = _LagFamilies()
        return iter(families.all())
