"""Acceptance with the real broker: a consumer that stops turns its group to ERR with STOP inside
the window; a consumer that keeps up stays OK.

Three groups read one topic while a producer writes a record before every sampling pass. All three
commit for three passes; then one closes (its group goes Empty), one stays in its group but stops
committing, one goes on. The passes are stamped 10 s apart on a clock of their own (``now_ms``), as
the beat schedule would space them, so the test runs in seconds; everything else is real.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest
import redis
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from events.monitoring.lag import GroupStatus
from events.monitoring.services import lag_sample
from tests.monitoring_lag.kafka_helpers import (
    SingleRecordProducer,
    consume_and_commit,
    join_all,
    new_consumer,
)
from tests.support.kafka import create_topic
from tests.support.ops import SCRAPE_AUTH

pytestmark = pytest.mark.kafka

PASS_SPACING_MS = 10_000
PASSES_WHILE_ALL_COMMIT = 3


@dataclass
class Scenario:
    keeper: str
    stopper: str
    staller: str
    first_pass_after_stop: int
    statuses: dict[str, list[GroupStatus]] = field(default_factory=dict)
    http: dict[str, tuple[int, dict]] = field(default_factory=dict)
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(kafka_bootstrap: str) -> Scenario:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    suffix = uuid.uuid4().hex[:8]
    topic = create_topic(f"lag-acceptance-{suffix}")
    run = Scenario(
        keeper=f"keeper-{suffix}",
        stopper=f"stopper-{suffix}",
        staller=f"staller-{suffix}",
        first_pass_after_stop=PASSES_WHILE_ALL_COMMIT,
    )
    keeper, stopper, staller = (new_consumer(group, topic) for group in (run.keeper, run.stopper, run.staller))
    producer = SingleRecordProducer(topic)
    start_ms = int(time.time() * 1000) - 1000 * PASS_SPACING_MS
    try:
        join_all([keeper, stopper, staller])
        passes = PASSES_WHILE_ALL_COMMIT + settings.LAG_WINDOW_SAMPLES + 2
        for number in range(passes):
            if number == run.first_pass_after_stop:
                stopper.close()
            producer.send()
            consume_and_commit(keeper, 1)
            if number < run.first_pass_after_stop:
                consume_and_commit(stopper, 1)
                consume_and_commit(staller, 1)
            result = lag_sample(now_ms=start_ms + number * PASS_SPACING_MS)
            by_group = {status.group: status for status in result.statuses}
            for group in (run.keeper, run.stopper, run.staller):
                run.statuses.setdefault(group, []).append(by_group[group])
        client = Client(**SCRAPE_AUTH)
        for path in ["/monitoring/lag/", *(f"/monitoring/lag/{g}" for g in (run.keeper, run.stopper, run.staller))]:
            response = client.get(path)
            run.http[path] = (response.status_code, response.json())
        exposition = client.get("/metrics").content.decode()
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                if sample.labels.get("consumer_group") in (run.keeper, run.stopper, run.staller):
                    run.metrics[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    finally:
        for consumer in (keeper, staller):
            consumer.close()
    return run


def test_a_consumer_that_keeps_up_stays_ok(scenario: Scenario):
    assert [s.status for s in scenario.statuses[scenario.keeper]] == ["OK"] * len(scenario.statuses[scenario.keeper])
    assert scenario.statuses[scenario.keeper][-1].totallag == 0


def test_a_consumer_that_stops_turns_its_group_to_err_with_stop_inside_the_window(scenario: Scenario):
    statuses = scenario.statuses[scenario.stopper]
    stopped_at = scenario.first_pass_after_stop
    first_err = next(i for i, s in enumerate(statuses) if s.status != "OK")
    # Burrow holds STOP back while a high watermark in the window is at or below the last commit
    # (the consumer had caught up): here, until the watermark of the last pass before the stop has
    # rolled out of the window, and not one pass longer.
    assert first_err == stopped_at - 1 + settings.LAG_WINDOW_SAMPLES
    for status in statuses[first_err:]:
        assert status.status == "ERR"
        assert [p.status for p in status.partitions] == ["STOP"]
    final = statuses[-1]
    records_since_stop = len(statuses) - stopped_at
    assert (final.totallag, final.maxlag.current_lag) == (records_since_stop, records_since_stop)
    # Nothing is committed after the stop, so the window never fills again: Burrow's "incomplete".
    assert final.partitions[0].complete == PASSES_WHILE_ALL_COMMIT / settings.LAG_WINDOW_SAMPLES


def test_a_member_that_stays_but_stops_committing_stalls(scenario: Scenario):
    statuses = scenario.statuses[scenario.staller]
    first_err = next(i for i, s in enumerate(statuses) if s.status != "OK")
    # OK while its last zero-lag commit is in the window; STALL once the window holds only the
    # same offset again and again.
    assert first_err == scenario.first_pass_after_stop - 1 + settings.LAG_WINDOW_SAMPLES
    assert statuses[-1].status == "ERR"
    assert [p.status for p in statuses[-1].partitions] == ["STALL"]
    assert statuses[-1].complete == 1.0


def test_the_group_endpoint_answers_in_burrow_v3_shape(scenario: Scenario):
    code, body = scenario.http[f"/monitoring/lag/{scenario.stopper}"]
    assert code == 200
    assert (body["error"], body["message"]) == (False, "consumer status returned")
    status = body["status"]
    assert set(status) == {
        "cluster",
        "group",
        "status",
        "complete",
        "partitions",
        "partition_count",
        "maxlag",
        "totallag",
    }
    assert (status["cluster"], status["group"], status["status"]) == ("local", scenario.stopper, "ERR")
    assert status["partition_count"] == 1
    partition = status["partitions"][0]
    assert set(partition) == {
        "topic",
        "partition",
        "owner",
        "client_id",
        "status",
        "start",
        "end",
        "current_lag",
        "complete",
    }
    assert partition["status"] == "STOP"
    assert set(partition["end"]) == {"offset", "timestamp", "lag"}
    assert partition["end"]["offset"] == PASSES_WHILE_ALL_COMMIT
    assert status["maxlag"] == partition
    assert status["totallag"] == partition["current_lag"] > 0
    assert body["sampled_at"] == scenario.statuses[scenario.stopper][-1].evaluated_at_ms


def test_the_list_endpoint_has_every_group_with_its_status(scenario: Scenario):
    code, body = scenario.http["/monitoring/lag/"]
    assert code == 200
    assert body["error"] is False
    statuses = {s["group"]: s["status"] for s in body["statuses"]}
    assert {g: statuses[g] for g in (scenario.keeper, scenario.stopper, scenario.staller)} == {
        scenario.keeper: "OK",
        scenario.stopper: "ERR",
        scenario.staller: "ERR",
    }
    assert body["consumers"] == [s["group"] for s in body["statuses"]] == sorted(body["consumers"])


def test_metrics_carry_the_same_figures(scenario: Scenario):
    def gauge(name: str, group: str, **labels: str) -> float:
        key = tuple(sorted({"cluster": "local", "consumer_group": group, **labels}.items()))
        return scenario.metrics[(name, key)]

    partition = {"topic": scenario.http[f"/monitoring/lag/{scenario.stopper}"][1]["status"]["partitions"][0]["topic"]}
    partition["partition"] = "0"
    stopper = scenario.statuses[scenario.stopper][-1]
    assert gauge("kafka_consumer_group_status", scenario.stopper) == 3  # ERR
    assert gauge("kafka_consumer_partition_status", scenario.stopper, **partition) == 4  # STOP
    assert gauge("kafka_consumer_partition_status", scenario.staller, **partition) == 5  # STALL
    assert gauge("kafka_consumer_group_status", scenario.keeper) == 1  # OK
    assert gauge("kafka_consumer_group_total_lag", scenario.stopper) == stopper.totallag
    assert gauge("kafka_consumer_group_max_lag", scenario.stopper) == stopper.maxlag.current_lag
    assert gauge("kafka_consumer_partition_lag", scenario.stopper, **partition) == stopper.totallag
    assert gauge("kafka_consumer_partition_current_offset", scenario.stopper, **partition) == PASSES_WHILE_ALL_COMMIT
    assert gauge("kafka_consumer_group_complete", scenario.keeper) == 1.0
    assert gauge("kafka_consumer_group_partitions", scenario.keeper) == 1
