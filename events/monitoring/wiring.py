"""Everything monitoring plugs into; MonitoringConfig.ready calls connect().

What monitoring registers:
- events.messaging.hooks: a command written to the outbox opens the expectation of its response
  (outbox_written); a consumed response answers it (events_applied), each in the transaction of the write;
- its own scrape collectors (consumer lag, outbox, responses, flags), the events tiles and the
  consumer-lag and responses charts;
- system checks of the metrics set-up and of REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS.

What monitoring offers the apps (extension points):
- events.monitoring.collectors.register_scrape_collector: figures read at /metrics scrape time;
- events.monitoring.dashboard.register_tiles / register_chart: the monitoring page;
- events.monitoring.expectations.expectation_overdue: a signal sent once per overdue command.
"""

from __future__ import annotations

from django.core import checks

from events.messaging.hooks import register_events_applied, register_outbox_written
from events.monitoring.checks import check_metrics_setup, check_response_timeouts
from events.monitoring.collectors import flag_metrics, outbox_metrics, register_scrape_collector, response_metrics
from events.monitoring.dashboard import register_chart, register_tiles
from events.monitoring.expectations import expectations_answer, expectations_open
from events.monitoring.metrics import ConsumerLagCollector
from events.monitoring.panels import consumer_lag_chart, events_tiles, responses_chart


def connect() -> None:
    register_outbox_written(expectations_open)
    register_events_applied(expectations_answer)
    register_scrape_collector("consumer_lag", ConsumerLagCollector().collect)
    register_scrape_collector("outbox", outbox_metrics)
    register_scrape_collector("responses", response_metrics)
    register_scrape_collector("flags", flag_metrics)
    register_tiles("events", events_tiles, order=50)
    register_chart("consumer_lag", consumer_lag_chart, order=30)
    register_chart("responses", responses_chart, order=40)
    checks.register(check_metrics_setup)
    checks.register(check_response_timeouts)
