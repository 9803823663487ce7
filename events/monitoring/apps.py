from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class MonitoringConfig(AppConfig):
    name = "events.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from events.monitoring.collectors import (
            flag_metrics,
            outbox_metrics,
            register_scrape_collector,
            response_metrics,
        )
        from events.monitoring.dashboard import register_chart, register_tiles
        from events.monitoring.metrics import ConsumerLagCollector
        from events.monitoring.panels import consumer_lag_chart, events_tiles, responses_chart

        register_scrape_collector("consumer_lag", ConsumerLagCollector().collect)
        register_scrape_collector("outbox", outbox_metrics)
        register_scrape_collector("responses", response_metrics)
        register_scrape_collector("flags", flag_metrics)
        register_tiles("events", events_tiles, order=50)
        register_chart("consumer_lag", consumer_lag_chart, order=30)
        register_chart("responses", responses_chart, order=40)
        checks.register(check_metrics_setup)
        checks.register(check_response_timeouts)


def check_metrics_setup(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """/metrics adds up every process only when each one writes to the shared directory."""
    from events.monitoring.multiprocess import multiprocess_active

    if multiprocess_active():
        return []
    return [
        checks.Warning(
            "prometheus_client is not in multiprocess mode: /metrics shows only the process that serves it",
            hint="Something imported prometheus_client and created metrics before the settings ran "
            "use_multiprocess_directory; PROMETHEUS_MULTIPROC_DIR must be set before that.",
            id="monitoring.W001",
        )
    ]


def check_response_timeouts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from events.expectations import command_types

    unknown = sorted(set(settings.RESPONSE_TIMEOUT_SECONDS) - set(command_types()))
    if not unknown:
        return []
    return [
        checks.Error(
            f"REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS names {', '.join(unknown)}, which are not command types",
            hint=f"Command types of the specification: {', '.join(command_types())}.",
            id="monitoring.E001",
        )
    ]
