"""GET /metrics: Prometheus text that adds up every process, and the figures read at scrape time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from events.messaging.models import OutboxMessage
from events.monitoring import collectors
from events.monitoring.multiprocess import clear_stale_files, multiprocess_active, process_identifier
from events.monitoring.services import lag_sample
from refundtool.models import Refund
from tests.domain.factories import new_refund
from tests.monitoring.helpers import metric_samples
from tests.support.kafka import read_all
from tests.support.ops import SCRAPE_AUTH
from tests.support.processes import wait_for

pytestmark = pytest.mark.kafka

# Every metric the issue names, by what it is for.
NAMED = {
    "HTTP": "django_http_requests_total_by_method",
    "events consumed": "refundtool_events_consumed",
    "events produced": "refundtool_events_produced",
    "events dead-lettered": "refundtool_events_dead_lettered",
    "outbox backlog size": "refundtool_outbox_backlog",
    "outbox oldest age": "refundtool_outbox_oldest_age_seconds",
    "consumer processing latency": "refundtool_consumer_message_seconds",
    "receipt SLA histogram": "refundtool_fiscal_refunded_to_done_seconds",
    "stuck refunds": "refundtool_refunds_stuck",
    "overdue responses": "refundtool_responses_overdue",
    "lag per partition": "kafka_consumer_partition_lag",
}


def families(exposition: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(exposition)}


@pytest.mark.slow
def test_metrics_parse_and_name_everything_including_what_other_processes_recorded(flow, redis_client, ops_client):
    """Counters of processes that ran earlier in the session still count, so this compares before and after."""
    consumed = ("refundtool_events_consumed_total", (("event_type", "bob.refund_requested"), ("outcome", "processed")))
    dead = (
        "refundtool_events_dead_lettered_total",
        (("error_class", "MalformedMessage"), ("topic", "bob.refund_requested.v1")),
    )
    produced = (
        "refundtool_events_produced_total",
        (("event_type", "refund.item_ready_to_refund"), ("version", "1")),
    )
    produced_v2 = (
        "refundtool_events_produced_total",
        (("event_type", "refund.item_ready_to_refund"), ("version", "2")),
    )
    latency = ("refundtool_consumer_message_seconds_count", ())
    before = metric_samples(ops_client.get("/metrics").content.decode())
    in_this_process = [
        REGISTRY.get_sample_value(name, dict(labels)) for name, labels in (consumed, produced, produced_v2)
    ]
    group = "refundtool-metrics"
    flow.start("consumer", "consume", "--group", group)
    flow.start("relay", "relay_outbox")
    flow.publish(flow.request("KZ"))
    flow.publish_raw("bob.refund_requested.v1", b'{"metadata": ', key=b"KZ-POISON")
    wait_for(
        lambda: Refund.objects.exists() and not OutboxMessage.objects.filter(published_at__isnull=True).exists(),
        timeout=60,
        message=flow.logs,
    )
    assert len(read_all("bob.refund_requested.v1.dlq", expect=1)) == 1
    wait_for(lambda: lag_sample() is not None, timeout=10)  # the real sampler, so lag has partitions

    response = ops_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    exposition = response.content.decode()
    found = families(exposition)
    assert {what: name for what, name in NAMED.items() if name not in found} == {}

    samples = metric_samples(exposition)
    # The command goes out in v1 and v2 (one tender): the relay counts each message it produced.
    for key, increase in [(consumed, 1), (dead, 1), (produced, 1), (produced_v2, 1)]:
        assert samples[key] - before.get(key, 0) == increase, key
    assert samples[latency] > before.get(latency, 0)
    # This process consumed and produced nothing meanwhile: the figures came from the consumer and relay.
    assert [
        REGISTRY.get_sample_value(name, dict(labels)) for name, labels in (consumed, produced, produced_v2)
    ] == in_this_process

    assert samples[("refundtool_outbox_backlog", ())] == 0
    assert samples[("refundtool_responses_open", (("command_type", "refund.item_ready_to_refund"),))] == 1
    assert samples[("refundtool_responses_overdue", (("command_type", "refund.item_ready_to_refund"),))] == 0
    assert samples[("refundtool_refunds_stuck", (("state", "ready_to_refund"),))] == 0
    lag = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "kafka_consumer_partition_lag" and dict(labels)["consumer_group"] == group
    }
    assert lag
    assert set(lag.values()) == {0}
    assert ("refundtool_fiscal_refunded_to_done_seconds_count", ()) in samples
    assert all(value == 1 for (name, _), value in samples.items() if name == "refundtool_metrics_collector_up")
    for name in ("consumer", "relay"):
        assert flow.processes[name].stop() == 0, flow.logs()


@pytest.mark.django_db
def test_the_outbox_backlog_counts_unpublished_rows():
    new_refund()
    samples = metric_samples(_scrape())
    assert samples[("refundtool_outbox_backlog", ())] == 6  # two snapshots and the command, each in v1 and v2
    assert samples[("refundtool_outbox_oldest_age_seconds", ())] >= 0


@pytest.mark.django_db
def test_a_failing_source_costs_its_own_figures_only(monkeypatch):
    def broken() -> list:
        raise ConnectionError("the source is down")

    monkeypatch.setitem(collectors._scrape_collectors, "broken", broken)
    samples = metric_samples(_scrape())
    assert samples[("refundtool_metrics_collector_up", (("collector", "broken"),))] == 0
    assert samples[("refundtool_metrics_collector_up", (("collector", "outbox"),))] == 1
    assert ("refundtool_outbox_backlog", ()) in samples


@pytest.mark.django_db
def test_a_metric_no_process_recorded_yet_is_still_declared(ops_client):
    exposition = ops_client.get("/metrics").content.decode()
    dead_lettered = families(exposition)["refundtool_events_dead_lettered"]
    assert dead_lettered.type == "counter"
    assert "# HELP refundtool_events_dead_lettered_total Messages sent to a dead-letter topic." in exposition


@pytest.mark.django_db
def test_openmetrics_when_asked(ops_client):
    response = ops_client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


def test_the_suite_runs_in_multiprocess_mode(settings):
    assert multiprocess_active()
    assert any(
        path.name.endswith(f"_{process_identifier()}.db") for path in settings.PROMETHEUS_MULTIPROC_DIR.iterdir()
    )


def test_a_forked_child_writes_its_metrics_to_files_of_its_own():
    parent = process_identifier()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which reports through the pipe
        os.write(write_end, process_identifier().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read().decode() == f"{parent.rsplit('-', 1)[0]}-{child}"
    assert process_identifier() == parent == parent.rsplit("-", 1)[0] + f"-{os.getpid()}"


def test_run_all_removes_the_files_of_processes_gone_and_keeps_the_living(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = process_identifier().rsplit("-", 1)[0]
    files = {
        "mine": f"counter_{process_identifier()}.db",
        "mine, a live gauge": f"gauge_livesum_{process_identifier()}.db",
        "gone": f"counter_{host}-{gone.stdout.strip()}.db",
        "another host": f"histogram_elsewhere-{os.getpid()}.db",
    }
    for name in files.values():
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a metric file")
    assert clear_stale_files(tmp_path) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [files["mine"], files["mine, a live gauge"], "notes.txt"]
    )


def _scrape() -> str:
    from django.test import Client

    return Client(**SCRAPE_AUTH).get("/metrics").content.decode()
