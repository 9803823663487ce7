"""The sampler's entry points (Celery task and beat entry, sample_lag command), the HTTP endpoints'
answers to bad requests, and what a pass does when the cluster or the store fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from events.messaging.embedded_broker import free_port
from events.messaging.kafka import admin_client
from events.monitoring import store
from events.monitoring.lag import PartitionWindow
from events.monitoring.services import lag_sample
from tests.monitoring_lag.kafka_helpers import SingleRecordProducer, commit_offset
from tests.support.kafka import create_topic
from tests.support.ops import SCRAPE_AUTH

pytestmark = pytest.mark.kafka

PASS_WAIT_SECONDS = 20


@pytest.fixture
def committed_group(redis_client, unique_name):
    """A group without members that committed all 3 records of its topic: Empty, lag 0."""
    topic = create_topic(unique_name("lag-entry"))
    SingleRecordProducer(topic).send(3)
    return commit_offset(unique_name("lag-group"), topic, 3)


def wait_for_pass() -> store.LagIndex:
    deadline = time.monotonic() + PASS_WAIT_SECONDS
    while (index := store.load_index()) is None:
        assert time.monotonic() < deadline, "no sampling pass was stored"
        time.sleep(0.05)
    return index


def test_beat_runs_the_sampling_task_every_lag_sample_interval():
    from refundtool.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscovers events.monitoring.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["sample-consumer-lag"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.LAG_SAMPLE_INTERVAL_SECONDS


def test_the_celery_task_runs_a_pass_on_a_real_worker(committed_group, celery_worker):
    from events.monitoring.tasks import sample_consumer_lag

    sample_consumer_lag.delay()
    assert committed_group in wait_for_pass().groups
    assert store.load_group(committed_group).state == "EMPTY"


def test_sample_lag_once_prints_each_group_status(committed_group, capsys):
    call_command("sample_lag", "--once")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(committed_group))
    assert line == f"{committed_group}: OK totallag=0 complete=0.00"  # no partition has a full window yet


def test_sample_lag_against_an_unreachable_broker_fails_with_a_message_and_keeps_the_windows(committed_group):
    call_command("sample_lag", "--once")
    before = store.load_group(committed_group)
    with (
        override_settings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}"),
        pytest.raises(CommandError, match="cannot read the cluster"),
    ):
        call_command("sample_lag", "--once", "--timeout", "0.5")
    assert store.load_group(committed_group) == before
    assert lag_sample(timeout_seconds=5) is not None  # the failed pass released its lock


def test_sample_lag_refuses_a_timeout_that_is_not_positive():
    with pytest.raises(CommandError, match="--timeout must be positive"):
        call_command("sample_lag", "--once", "--timeout", "0")


def test_a_pass_skips_while_another_holds_the_lock(redis_client):
    with store.sampling_lock(timeout_seconds=30) as acquired:
        assert acquired
        assert lag_sample(timeout_seconds=5) is None
    assert store.load_index() is None


def test_a_deleted_group_leaves_the_store_at_the_next_pass(committed_group):
    lag_sample(timeout_seconds=5)
    assert store.load_group(committed_group) is not None
    admin = admin_client()
    admin.delete_consumer_groups([committed_group])[committed_group].result(timeout=10)
    lag_sample(timeout_seconds=5)
    assert store.load_group(committed_group) is None
    assert committed_group not in store.load_index().groups


@pytest.mark.slow
def test_sample_lag_without_once_samples_until_sigterm(committed_group):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "LAG_SAMPLE_INTERVAL_SECONDS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "sample_lag"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = wait_for_pass().sampled_at_ms
        deadline = time.monotonic() + PASS_WAIT_SECONDS
        while store.load_index().sampled_at_ms == first:
            assert time.monotonic() < deadline, "the loop ran one pass only"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"{committed_group}: OK" in out


def test_an_unknown_group_is_a_404_with_burrows_notfound_status(redis_client):
    response = Client(**SCRAPE_AUTH).get("/monitoring/lag/no-such-group")
    assert response.status_code == 404
    body = response.json()
    assert (body["error"], body["message"]) == (True, "consumer group not found")
    assert body["status"]["status"] == "NOTFOUND"
    assert body["status"]["group"] == "no-such-group"


@pytest.mark.parametrize("path", ["/monitoring/lag/", "/monitoring/lag/any-group"])
def test_a_method_other_than_get_is_a_405_with_a_json_body(path):
    response = Client(**SCRAPE_AUTH).post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"] is True


def test_a_group_id_with_spaces_and_url_characters_is_found(redis_client, unique_name):
    group = commit_offset(unique_name("team a:refunds+v1"), create_topic(unique_name("lag-odd-name")), 0)
    lag_sample(timeout_seconds=5)
    response = Client(**SCRAPE_AUTH).get("/monitoring/lag/" + quote(group))
    assert response.status_code == 200
    assert response.json()["status"]["group"] == group


def test_a_group_id_with_slashes_is_found(redis_client):
    # tansu cuts a group id at its first "/" (it lists "team/refunds" as "team"), so this group is
    # stored as a pass would store it instead of committed on the broker; Apache Kafka keeps it whole.
    window = PartitionWindow(topic="t", partition=0, commits=[], broker_offsets=[], current_lag=0)
    group = store.GroupWindows(group="team/refunds/v1", state="STABLE", sampled_at_ms=1, windows=[window])
    store.save_pass(sampled_at_ms=1, groups=[group], dropped=[])
    response = Client(**SCRAPE_AUTH).get("/monitoring/lag/team/refunds/v1")
    assert response.status_code == 200
    assert response.json()["status"]["group"] == "team/refunds/v1"


def test_metrics_still_answer_when_the_lag_store_is_down():
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    with override_settings(CACHES=unreachable):
        response = Client(**SCRAPE_AUTH).get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE kafka_consumer_group_status gauge" in text
    assert "kafka_consumer_group_status{" not in text
    assert "django_http_requests_latency_seconds_by_view_method" in text
