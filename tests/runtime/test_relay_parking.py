"""Rows the broker refuses for good are parked, not retried for ever: other keys go on, later rows of
the parked key wait, the refund is flagged, and an operator retries or skips them (command, admin)."""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import timedelta

import orjson
import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from events.messaging.kafka import admin_client
from events.messaging.metrics import OUTBOX_PARKED
from events.messaging.models import OutboxDecision, OutboxMessage
from events.messaging.parking import OutboxRowNotParkedError, outbox_parked, outbox_retry, outbox_skip
from events.messaging.relay import OutboxRelay
from events.monitoring.collectors import outbox_metrics
from events.monitoring.flags import flags_open
from refundtool.monitoring import OUTBOX_PARKED as PARKED_FLAG
from tests.support import brokers
from tests.support.kafka import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

TOPIC = "refund.update.v1"
REFUND_ID = str(uuid.uuid4())


@pytest.fixture
def relay(fresh_broker) -> OutboxRelay:
    call_command("ensure_topics", "--partitions", "3", verbosity=0)
    relay = OutboxRelay(batch_size=500, poll_interval=0.1, retention=timedelta(days=1))
    yield relay
    relay.producer.close()


def _row(key: str, *, size: int = 0, topic: str = TOPIC, refund_id: str = REFUND_ID) -> OutboxMessage:
    """An outbox row as the relay sees it; `size` pads it past a limit (the outbox writer would refuse it)
    with random text, which the producer's compression cannot shrink under the limit."""
    eid = str(uuid.uuid4())
    pad = secrets.token_urlsafe(size)[:size]
    message = {"metadata": {"eid": eid}, "data": {"refund_id": refund_id, "order_number": key, "pad": pad}}
    return OutboxMessage.objects.create(
        eid=eid,
        event_type="refund.update",
        version=1,
        topic=topic,
        key=key,
        message=message,
        headers={"eid": eid, "event_type": "refund.update"},
    )


def _sent_eids(expect: int, topic: str = TOPIC) -> list[str]:
    return [orjson.loads(m.value())["metadata"]["eid"] for m in read_all(topic, expect=expect)]


def test_a_row_too_large_is_parked_other_keys_go_on_and_later_rows_of_its_key_wait(relay):
    parked_before = OUTBOX_PARKED.labels("refund.update")._value.get()
    first = _row("A")
    poison = _row("A", size=2_000_000)  # over the producer's message.max.bytes
    later = _row("A")
    other = _row("B")

    outcome = relay.relay_batch()

    assert outcome == (2, 0, 1)
    poison.refresh_from_db()
    assert poison.failed_at is not None
    assert poison.published_at is None
    assert "MSG_SIZE_TOO_LARGE" in poison.last_error
    assert OutboxMessage.objects.get(id=later.id).published_at is None
    assert set(_sent_eids(2)) == {str(first.eid), str(other.eid)}
    assert OUTBOX_PARKED.labels("refund.update")._value.get() == parked_before + 1
    # Nothing retries it, and the row behind it is not claimed again and again.
    assert relay.relay_batch() == (0, 0, 0)
    assert [row.id for row in outbox_parked()] == [poison.id]
    # The refund is flagged, the scrape shows it.
    flag = flags_open(subject_type="refund", kind=PARKED_FLAG).get()
    assert flag.subject_id == REFUND_ID
    assert "MSG_SIZE_TOO_LARGE" in flag.detail
    gauges = {family.name: family.samples[0].value for family in outbox_metrics()}
    assert gauges["refundtool_outbox_parked"] == 1

    assert outbox_skip(ids=[poison.id], actor="ops", reason="oversized test row") == 1

    assert relay.relay_batch() == (1, 0, 0)
    assert set(_sent_eids(3)) == {str(first.eid), str(other.eid), str(later.eid)}
    decision = OutboxDecision.objects.get()
    assert (decision.action, decision.actor, decision.eid) == ("skip", "ops", poison.eid)
    assert decision.message == poison.message  # what was never sent is kept
    assert not OutboxMessage.objects.filter(id=poison.id).exists()
    assert not flags_open(subject_type="refund", kind=PARKED_FLAG).exists()


@pytest.mark.skipif(brokers.kind() != "apache", reason="tansu does not enforce a topic's max.message.bytes")
def test_a_row_the_topic_refuses_is_parked_and_sent_after_a_retry_once_the_topic_allows_it(relay):
    """The broker's own refusal: the topic's max.message.bytes, under the producer's own limit."""
    topic = "refund.small.v1"
    admin = admin_client()
    new = NewTopic(topic, num_partitions=1, replication_factor=1, config={"max.message.bytes": "4096"})
    admin.create_topics([new])[topic].result(timeout=30)
    poison, later = _row("A", size=20_000, topic=topic), _row("A", topic=topic)

    assert relay.relay_batch() == (0, 0, 1)
    poison.refresh_from_db()
    assert poison.failed_at is not None
    assert "MSG_SIZE_TOO_LARGE" in poison.last_error

    raised = ConfigEntry("max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", topic, incremental_configs=[raised])
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)
    assert outbox_retry(ids=[poison.id], actor="ops", reason="topic limit raised") == 1

    relay.relay_batch()
    assert _sent_eids(2, topic) == [str(poison.eid), str(later.eid)]  # in order, once
    assert OutboxDecision.objects.get().action == "retry"


def test_a_broker_that_is_down_is_a_transient_error_retried_not_parked(settings, cuttable_broker):
    call_command("ensure_topics", verbosity=0)
    settings.REFUNDTOOL_OUTBOX_DELIVERY_TIMEOUT_MS = 2000
    relay = OutboxRelay(batch_size=10, poll_interval=0.1, retention=timedelta(days=1))
    try:
        row = _row("A")
        cuttable_broker.cut()
        outcome = relay.relay_batch()
        assert outcome == (0, 1, 0)
        row.refresh_from_db()
        assert row.failed_at is None
        assert row.attempts == 1
        assert row.last_error
        cuttable_broker.restore()
        relay.producer = relay._new_producer()
        assert relay.relay_batch() == (1, 0, 0)
    finally:
        relay.producer.close()


def test_the_running_relay_keeps_going_past_a_parked_row(relay):
    _row("A", size=2_000_000)
    good = [_row(f"K{index}") for index in range(5)]
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    try:
        assert set(_sent_eids(5)) == {str(row.eid) for row in good}
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
    assert outbox_parked().count() == 1


def test_the_command_lists_retries_and_skips_parked_rows_and_refuses_other_rows(relay, capsys):
    poison, waiting = _row("A", size=2_000_000), _row("B")
    relay.relay_batch()

    call_command("outbox", "parked")
    listing = capsys.readouterr().out
    assert f"{poison.id}  refund.update" in listing
    assert "1 parked row(s)" in listing

    with pytest.raises(CommandError, match="not parked"):
        call_command("outbox", "skip", str(waiting.id), "--reason", "wrong row")
    with pytest.raises(CommandError, match="not parked"):
        call_command("outbox", "retry", "999999", "--reason", "no such row")
    with pytest.raises(CommandError, match="reason"):
        call_command("outbox", "retry", str(poison.id), "--reason", " ")
    assert not OutboxDecision.objects.exists()

    call_command("outbox", "retry", str(poison.id), "--reason", "try again", "--actor", "alice")
    assert OutboxMessage.objects.get(id=poison.id).failed_at is None
    assert relay.relay_batch().parked == 1  # still too large: parked again
    call_command("outbox", "skip", str(poison.id), "--reason", "cannot be sent", "--actor", "alice")
    assert list(OutboxDecision.objects.order_by("id").values_list("action", "actor")) == [
        ("retry", "cli:alice"),
        ("skip", "cli:alice"),
    ]


def test_decisions_are_append_only(relay):
    poison = _row("A", size=2_000_000)
    relay.relay_batch()
    outbox_skip(ids=[poison.id], actor="ops", reason="test")
    decision = OutboxDecision.objects.get()
    with pytest.raises(Exception, match="append-only"):
        decision.save()
    with pytest.raises(Exception, match="append-only"):
        decision.delete()
    with pytest.raises(OutboxRowNotParkedError):
        outbox_skip(ids=[poison.id], actor="ops", reason="twice")


def test_the_admin_actions_ask_for_a_reason_need_the_permission_and_record_the_decision(relay, client):
    poison = _row("A", size=2_000_000)
    relay.relay_batch()
    url = reverse("admin:events_outboxmessage_changelist")
    viewer = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboxmessage"))
    client.force_login(viewer)
    page = client.get(url, {"parked": "yes"})
    assert page.status_code == 200
    assert str(poison.eid) in page.text
    assert "skip_parked" not in page.text  # no permission to decide: no action offered

    operator = User.objects.create_user("operator", password="pw-operator-1", is_staff=True)
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_outboxmessage", "add_outboxdecision"]))
    client.force_login(operator)
    selected = {"action": "skip_parked", "_selected_action": [poison.id]}
    confirm = client.post(url, selected)
    assert confirm.status_code == 200
    assert "reason" in confirm.text
    assert "Yes, skip" in confirm.text
    assert OutboxMessage.objects.filter(id=poison.id).exists()

    done = client.post(url, {**selected, "reason": "too large for any topic"}, follow=True)
    assert done.status_code == 200
    decision = OutboxDecision.objects.get()
    assert (decision.action, decision.actor, decision.reason) == ("skip", "operator", "too large for any topic")
    assert not OutboxMessage.objects.filter(id=poison.id).exists()
    assert decision.decided_at <= timezone.now()
