"""Acceptance: a Payment simulator that never answers makes its commands overdue, and they are listed.

Consumer, relay and Payment simulator run as OS processes on a broker of their own; the response
timeout is 2 s (REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS) so that the test need not wait 15 minutes. The
periodic check runs as the beat task would, on a real Celery worker.
"""

from __future__ import annotations

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from django.utils import timezone

from events.messaging.kafka import admin_client
from events.monitoring.flags import flags_open
from events.monitoring.models import ResponseExpectation
from events.monitoring.tasks import check_response_expectations
from refundtool.models import Refund
from refundtool.tasks import flag_stuck_refunds
from tests.monitoring.helpers import metric_samples
from tests.support.kafka import read_all
from tests.support.processes import service_env, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
COMMAND = "refund.item_ready_to_refund"
TIMEOUT_SECONDS = 2


def committed(group: str, topic: str) -> int:
    """How many messages of `topic` the group has committed past, over all partitions."""
    admin = admin_client()  # the client must outlive its futures
    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=5)[group]
    result = future.result()
    return sum(tp.offset for tp in result.topic_partitions if tp.topic == topic and tp.offset > 0)


def unanswered_flags() -> set[str]:
    return set(flags_open(subject_type="refund", kind="payment_unanswered").values_list("subject_id", flat=True))


def test_a_payment_that_never_answers_makes_commands_overdue_listed_and_flagged(flow, celery_worker, ops_client):
    env = service_env(REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS=f"{COMMAND}={TIMEOUT_SECONDS}")
    flow.start("consumer", "consume", "--group", "refundtool-monitoring", env=env)
    flow.start("relay", "relay_outbox")
    flow.start("silent-payment", "simulate_payment", "--answer-rate", "0", "--latency-ms", "0", "--group", "silent")
    flow.publish(*(flow.request(country) for country in ("RU", "KZ", "BY")))

    # Payment read every command (the simulator reads the latest version) and answered none.
    wait_for(
        lambda: committed("silent", f"{COMMAND}.v2") == 3,
        timeout=60,
        message=lambda: f"commands read: {committed('silent', f'{COMMAND}.v2')}\n{flow.logs()}",
    )
    refund_ids = {str(refund_id) for refund_id in Refund.objects.values_list("id", flat=True)}
    assert len(refund_ids) == 3
    wait_for(lambda: not ResponseExpectation.objects.filter(deadline__gte=timezone.now()).exists(), timeout=10)

    check_response_expectations.delay()
    wait_for(lambda: unanswered_flags() == refund_ids, timeout=20, message=lambda: str(unanswered_flags()))

    listed = ops_client.get("/monitoring/responses", {"overdue": "1"}).json()
    assert listed["count"] == 3
    assert {r["correlation"]["value"] for r in listed["responses"]} == refund_ids
    assert all(r["reported_overdue_at"] for r in listed["responses"])
    samples = metric_samples(ops_client.get("/metrics").content.decode())
    assert samples[("refundtool_responses_overdue", (("command_type", COMMAND),))] == 3
    assert set(Refund.objects.values_list("status", flat=True)) == {"ready_to_refund"}  # flagged, not moved
    assert read_all("payment.refund_processed.v2", expect=1, timeout=2) == []

    # Payment comes back and answers late: the commands close, the refunds move on, the flags clear.
    flow.start("payment", "simulate_payment", "--fail-rate", "0", "--latency-ms", "0", "--group", "late")
    wait_for(
        lambda: not ResponseExpectation.objects.filter(answered_at__isnull=True).exists(),
        timeout=60,
        message=flow.logs,
    )
    assert all(expectation.answered_late for expectation in ResponseExpectation.objects.all())
    assert ops_client.get("/monitoring/responses", {"overdue": "1"}).json()["count"] == 0
    flag_stuck_refunds.delay()
    wait_for(lambda: not unanswered_flags(), timeout=20, message=lambda: str(unanswered_flags()))
    assert set(Refund.objects.values_list("status", flat=True)) <= {"refunded", "completed"}
    for name in ("consumer", "relay", "silent-payment", "payment"):
        assert flow.processes[name].stop() == 0, flow.logs()
