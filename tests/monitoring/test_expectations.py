"""Unanswered commands: the outbox opens an expectation with the command, the consumer answers it."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

import pytest
from confluent_kafka import TopicPartition
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from events.contracts.envelope import build_message, kafka_record
from events.contracts.specification import get_event_spec
from events.messaging.consumer import EventConsumer
from events.messaging.models import InboxMessage, OutboxMessage
from events.messaging.outbox import OutgoingEvent, outbox_enqueue
from events.monitoring.expectations import (
    expectation_overdue,
    expectations_answer,
    expectations_check,
    response_windows,
)
from events.monitoring.models import ResponseExpectation, Sample
from tests.domain.factories import new_refund
from tests.monitoring.helpers import command_of, incoming, response_to
from tests.support.kafka import produce_one_by_one

pytestmark = pytest.mark.kafka

COMMAND = "refund.item_ready_to_refund"
RESPONSE = "payment.refund_processed"


@pytest.mark.django_db
def test_the_command_opens_one_expectation_with_the_spec_response_and_deadline():
    refund = new_refund()  # writes two refund.update and one item_ready_to_refund, each in v1 and v2
    command = command_of(refund)
    [expectation] = ResponseExpectation.objects.all()
    assert expectation.command_eid == uuid.UUID(command["metadata"]["eid"])
    assert (expectation.command_type, expectation.response_type) == (COMMAND, RESPONSE)
    assert (expectation.correlation_field, expectation.correlation_value) == ("refund_id", str(refund.id))
    assert (expectation.key, expectation.country) == (refund.order_number, "RU")
    assert expectation.deadline - expectation.sent_at == timedelta(
        seconds=get_event_spec(COMMAND).response_timeout_seconds
    )
    assert expectation.answered_at is None


@pytest.mark.django_db
def test_a_command_sent_in_two_versions_is_one_expectation_that_an_answer_to_either_closes():
    refund = new_refund()  # one tender: commanded in v1 and v2 while Payment migrates
    v1, v2 = (
        row.message
        for row in OutboxMessage.objects.filter(event_type=COMMAND, key=refund.order_number).order_by("version")
    )
    [expectation] = ResponseExpectation.objects.all()
    assert expectation.command_eid == uuid.UUID(v2["metadata"]["eid"])

    # A Payment still on v1 answers the v1 command, in v1.
    response = build_message(
        RESPONSE,
        {
            "refund_id": str(refund.id),
            "order_number": refund.order_number,
            "status": "succeeded",
            "amount": v1["data"]["amount"],
            "currency": refund.currency,
            "payment_transaction_id": "txn-v1",
            "processed_at": timezone.now().isoformat(),
        },
        country="RU",
        causation_id=v1["metadata"]["eid"],
        producer="payment",
        version=1,
    )
    assert expectations_answer(events=[incoming(response)]) == 1
    expectation.refresh_from_db()
    assert expectation.response_eid == uuid.UUID(response["metadata"]["eid"])


@pytest.mark.django_db
@override_settings(REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS={COMMAND: 7})
def test_a_setting_overrides_the_spec_timeout():
    new_refund()
    expectation = ResponseExpectation.objects.get()
    assert expectation.deadline - expectation.sent_at == timedelta(seconds=7)


@pytest.mark.django_db
def test_a_rolled_back_command_leaves_no_expectation():
    data = command_of(new_refund())["data"] | {"refund_id": str(uuid.uuid4())}
    opened = []

    def change_that_fails() -> None:
        with transaction.atomic():
            outbox_enqueue(events=[OutgoingEvent(COMMAND, data)], country="RU")
            opened.append(ResponseExpectation.objects.filter(correlation_value=data["refund_id"]).exists())
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        change_that_fails()
    assert opened == [True]
    assert not ResponseExpectation.objects.filter(correlation_value=data["refund_id"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("causation", [True, False], ids=["by causation_id", "by refund_id alone"])
def test_the_response_answers_its_command_and_no_other(causation):
    mine, other = new_refund(), new_refund()
    response = response_to(command_of(mine), causation=causation)
    assert expectations_answer(events=[incoming(response)]) == 1
    answered = ResponseExpectation.objects.get(correlation_value=str(mine.id))
    assert answered.answered_at is not None
    assert answered.response_eid == uuid.UUID(response["metadata"]["eid"])
    assert not answered.answered_late
    assert ResponseExpectation.objects.get(correlation_value=str(other.id)).answered_at is None
    assert expectations_answer(events=[incoming(response)]) == 0  # already answered


@pytest.mark.django_db
def test_an_event_that_answers_no_command_costs_no_query(django_assert_num_queries):
    message = response_to(command_of(new_refund())) | {}
    message = {**message, "metadata": {**message["metadata"], "event_type": "bob.refund_cancelled"}}
    with django_assert_num_queries(0):
        assert expectations_answer(events=[incoming(message)]) == 0


@pytest.mark.django_db
def test_the_consumer_answers_in_the_transaction_of_the_response(fresh_broker, unique_name):
    """A response whose handler must retry (its refund is unknown) leaves its command open."""
    call_command("ensure_topics", "--partitions", "1", verbosity=0)
    refund = new_refund()
    known = command_of(refund)
    with transaction.atomic():
        unknown_data = known["data"] | {"refund_id": str(uuid.uuid4())}
        [unknown] = outbox_enqueue(events=[OutgoingEvent(COMMAND, unknown_data)], country="RU")
    responses = [response_to(known, causation=False), response_to(unknown.message)]
    topic = get_event_spec(RESPONSE).topic
    produce_one_by_one(topic, [kafka_record(message).value for message in responses], key=refund.order_number.encode())
    consumer = EventConsumer(
        group=unique_name("consumer"),
        event_types=[RESPONSE],
        countries=None,
        batch_size=10,
        retry_window_seconds=60,
        handler_attempts=3,
    )
    consumer.consumer.assign([TopicPartition(topic, 0, 0)])
    batch = []
    try:
        while len(batch) < 2:
            batch += consumer.consumer.consume(num_messages=10, timeout=1)
        consumer.process(batch, threading.Event())
    finally:
        consumer.close()
    answered = ResponseExpectation.objects.get(correlation_value=str(refund.id))
    assert answered.answered_at is not None
    assert InboxMessage.objects.filter(eid=answered.response_eid).exists()
    refund.refresh_from_db()
    assert refund.status == "refunded"
    waiting = ResponseExpectation.objects.get(correlation_value=unknown_data["refund_id"])
    assert waiting.answered_at is None
    assert not InboxMessage.objects.filter(eid=responses[1]["metadata"]["eid"]).exists()


@pytest.mark.django_db
def test_the_check_marks_overdue_once_and_tells_the_apps(caplog):
    overdue_refund, answered_refund, in_time_refund = new_refund(), new_refund(), new_refund()
    expectations_answer(events=[incoming(response_to(command_of(answered_refund)))])
    later = timezone.now() + timedelta(seconds=get_event_spec(COMMAND).response_timeout_seconds + 1)
    ResponseExpectation.objects.filter(correlation_value=str(in_time_refund.id)).update(
        deadline=later + timedelta(hours=1)
    )
    told = []

    def receiver(sender, *, expectations, **kwargs):
        told.extend(e.correlation_value for e in expectations)

    expectation_overdue.connect(receiver)
    try:
        with caplog.at_level(logging.WARNING, logger="events.monitoring.expectations"):
            first = expectations_check(now=later)
        second = expectations_check(now=later + timedelta(seconds=30))
    finally:
        expectation_overdue.disconnect(receiver)
    assert told == [str(overdue_refund.id)]
    assert (first.newly_overdue, second.newly_overdue) == (1, 0)
    assert ResponseExpectation.objects.get(correlation_value=str(overdue_refund.id)).overdue_at == later
    assert "got no response by their deadline" in caplog.text


@pytest.mark.django_db
@override_settings(REFUNDTOOL_RESPONSE_WINDOW_SECONDS=300)
def test_the_check_compares_commands_sent_with_responses_received_per_window(caplog):
    now = timezone.now()
    for _ in range(3):
        new_refund()
    ResponseExpectation.objects.update(sent_at=now - timedelta(seconds=600), deadline=now - timedelta(seconds=1))
    answered = new_refund()
    expectations_answer(events=[incoming(response_to(command_of(answered)))], answered_at=now + timedelta(seconds=1))
    later = now + timedelta(seconds=5)
    [window] = response_windows(now=later, window_seconds=300)
    assert (window.command_type, window.sent, window.answered, window.open, window.overdue) == (COMMAND, 1, 1, 3, 3)

    # The next window: nothing sent, nothing answered, three commands waiting for longer than it.
    with caplog.at_level(logging.INFO, logger="events.monitoring.expectations"):
        result = expectations_check(now=now + timedelta(seconds=400))
    [window] = result.windows
    assert (window.sent, window.answered, window.open, window.overdue) == (0, 0, 3, 3)
    points = dict(Sample.objects.filter(series="response_window").values_list("label", "value"))
    assert points == {f"{COMMAND} sent": 0, f"{COMMAND} answered": 0, f"{COMMAND} overdue": 3}
    assert f"{COMMAND} in the last 300s: 0 sent, 0 answered; 3 open, 3 overdue" in caplog.text


@pytest.mark.django_db
@override_settings(REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS=1)
def test_the_check_prunes_answered_expectations_past_their_retention():
    old, recent, waiting = new_refund(), new_refund(), new_refund()
    now = timezone.now()
    expectations_answer(events=[incoming(response_to(command_of(old)))], answered_at=now - timedelta(hours=2))
    expectations_answer(events=[incoming(response_to(command_of(recent)))], answered_at=now)
    assert expectations_check(now=now).pruned == 1
    assert set(ResponseExpectation.objects.values_list("correlation_value", flat=True)) == {
        str(recent.id),
        str(waiting.id),
    }


@pytest.mark.django_db
def test_a_run_of_responses_answers_each_command_once_with_its_first_response(django_assert_num_queries):
    """The consumer's batch path hands a run of responses over at once: one SELECT, one UPDATE."""
    by_causation, by_refund_id, unanswered = new_refund(), new_refund(), new_refund()
    first = response_to(command_of(by_causation))
    run = [
        incoming(first),
        incoming(response_to(command_of(by_refund_id), causation=False)),
        incoming(response_to(command_of(by_causation))),  # a repeat: the first one answered
    ]
    with django_assert_num_queries(2):
        assert expectations_answer(events=run) == 2
    answered = dict(ResponseExpectation.objects.values_list("correlation_value", "response_eid"))
    assert answered[str(by_causation.id)] == uuid.UUID(first["metadata"]["eid"])
    assert answered[str(by_refund_id.id)] == run[1].eid
    assert answered[str(unanswered.id)] is None
