"""The consumer runtime with the real broker and PostgreSQL: each kind of bad message, and the good path."""

from __future__ import annotations

import random
import threading
import time
import uuid

import orjson
import pytest
from confluent_kafka import Producer, TopicPartition
from django.core.management import CommandError, call_command

from events.contracts.envelope import build_message, kafka_record
from events.messaging import handlers as handler_registry
from events.messaging.consumer import EventConsumer
from events.messaging.kafka import producer_config
from events.messaging.models import InboxMessage
from events.messaging.offsets import committed_offsets
from refundtool.models import Refund
from refundtool.simulation import REQUEST_VERSION, fake_refund_request
from tests.support.kafka import read_all

pytestmark = pytest.mark.kafka

REQUESTED = "bob.refund_requested.v1"
PROCESSED = "payment.refund_processed.v1"
CANCELLED = "bob.refund_cancelled.v1"


@pytest.fixture
def topics(fresh_broker):
    call_command("ensure_topics", "--partitions", "1", verbosity=0)


@pytest.fixture
def make_consumer(topics, transactional_db, unique_name):
    made: list[EventConsumer] = []

    def make(countries=("RU", "KZ", "BY", "UA"), **overrides) -> EventConsumer:
        consumer = EventConsumer(
            group=unique_name("group"),
            event_types=["bob.refund_requested", "bob.refund_cancelled", "payment.refund_processed"],
            countries=countries,
            batch_size=100,
            retry_window_seconds=overrides.get("retry_window_seconds", 60),
            handler_attempts=overrides.get("handler_attempts", 3),
        )
        consumer.consumer.assign([TopicPartition(topic, 0, 0) for topic in consumer.topics])
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        consumer.close()


def publish(*messages: dict | tuple[str, bytes]) -> None:
    producer = Producer(producer_config())
    for message in messages:
        if isinstance(message, tuple):
            producer.produce(message[0], key=b"K-1", value=message[1])
        else:
            record = kafka_record(message)
            producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
    assert producer.flush(10) == 0


def request(country: str = "KZ", **overrides) -> dict:
    data = fake_refund_request(random.Random(), country=country) | overrides
    return build_message("bob.refund_requested", data, country=country, producer="bob", version=REQUEST_VERSION)


def run_until(consumer: EventConsumer, condition, timeout: float = 20.0) -> None:
    stop = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the consumer did not get there in time"
        consumer._resume_due_partitions()
        consumer.process(consumer.consumer.consume(100, 0.2), stop)


def dead_letters(topic: str, expect: int = 1) -> list[dict[str, str]]:
    return [{k: v.decode() for k, v in m.headers()} for m in read_all(topic + ".dlq", expect=expect, timeout=5)]


def committed(consumer: EventConsumer, topic: str) -> int | None:
    return committed_offsets(consumer.group, [topic])[(topic, 0)]


def test_a_good_request_creates_the_refund_and_commits_its_offset(make_consumer):
    consumer = make_consumer()
    message = request()
    publish(message)
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 1)
    refund = Refund.objects.get()
    assert (refund.status, str(refund.refund_request_id)) == ("ready_to_refund", message["data"]["refund_request_id"])
    assert InboxMessage.objects.get().eid == uuid.UUID(message["metadata"]["eid"])


def test_a_message_that_is_not_json_is_dead_lettered_and_the_next_one_processed(make_consumer):
    consumer = make_consumer()
    publish((REQUESTED, b"\xff not json"), request())
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 2)
    assert Refund.objects.count() == 1
    [letter] = dead_letters(REQUESTED)
    assert letter["dlq.error.class"] == "MalformedMessage"


def test_a_message_that_breaks_the_schema_is_dead_lettered_with_every_error(make_consumer):
    consumer = make_consumer()
    bad = request()
    bad["data"]["items"][0]["quantity"] = 0
    del bad["data"]["currency"]
    publish(bad)
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 1)
    [letter] = dead_letters(REQUESTED)
    assert letter["dlq.error.class"] == "ValidationFailed"
    paths = {error["path"] for error in orjson.loads(letter["dlq.error.message"])}
    assert {"/data/items/0/quantity", "/data/currency"} <= paths
    assert not Refund.objects.exists()


def test_a_business_rule_breach_is_dead_lettered(make_consumer):
    consumer = make_consumer()
    publish(request(amount="1.00"))  # not the sum of the items
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 1)
    [letter] = dead_letters(REQUESTED)
    assert letter["dlq.error.class"] == "ValidationFailed"
    assert "/data/amount" in letter["dlq.error.message"]
    assert not Refund.objects.exists()


def test_a_conflicting_repeat_is_rejected_and_the_first_refund_stays(make_consumer):
    consumer = make_consumer()
    first = request()
    conflicting = request(refund_request_id=first["data"]["refund_request_id"])
    publish(first, conflicting)
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 2)
    [letter] = dead_letters(REQUESTED)
    assert letter["dlq.error.class"] == "RejectMessage"
    assert "RequestConflictError" in letter["dlq.error.message"]
    assert Refund.objects.get().refund_request_id == uuid.UUID(first["data"]["refund_request_id"])


def test_a_redelivered_eid_is_a_no_op(make_consumer):
    consumer = make_consumer()
    message = request()
    publish(message, message)
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 2)
    assert Refund.objects.count() == 1
    assert Refund.objects.get().transitions.count() == 2


def test_a_country_this_deployment_does_not_serve_is_skipped_and_committed(make_consumer):
    consumer = make_consumer(countries=("KZ",))
    publish(request("RU"), request("KZ"))
    run_until(consumer, lambda: committed(consumer, REQUESTED) == 2)
    assert list(Refund.objects.values_list("country", flat=True)) == ["KZ"]
    assert read_all(REQUESTED + ".dlq", expect=1, timeout=1) == []


def test_a_payment_result_for_an_unknown_refund_is_retried_then_dead_lettered(make_consumer):
    consumer = make_consumer(retry_window_seconds=1)
    result = build_message(
        "payment.refund_processed",
        {
            "refund_id": str(uuid.uuid4()),
            "order_number": "KZ100",
            "status": "succeeded",
            "amount": "10.00",
            "currency": "KZT",
            "payment_transaction_id": "txn-1",
            "processed_at": "2026-11-24T10:00:00+00:00",
        },
        country="KZ",
        producer="payment",
        version=1,
    )
    publish(result, request())
    # The request on the other topic goes on while the payment result waits.
    run_until(consumer, lambda: Refund.objects.exists() and committed(consumer, PROCESSED) is None, timeout=5)
    run_until(consumer, lambda: committed(consumer, PROCESSED) == 1)
    [letter] = dead_letters(PROCESSED)
    assert letter["dlq.error.class"] == "RetryWindowExceeded"
    assert "does not exist" in letter["dlq.error.message"]


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(make_consumer, monkeypatch):
    calls = []

    def broken(event):
        calls.append(event.eid)
        raise RuntimeError("a bug in the handler")

    monkeypatch.setitem(handler_registry._handlers, "bob.refund_cancelled", broken)
    consumer = make_consumer(handler_attempts=3)
    cancel = build_message(
        "bob.refund_cancelled",
        {"refund_request_id": str(uuid.uuid4()), "order_number": "KZ1", "reason": "customer kept it"},
        country="KZ",
        producer="bob",
    )
    publish(cancel)
    run_until(consumer, lambda: committed(consumer, CANCELLED) == 1)
    assert len(calls) == 3
    [letter] = dead_letters(CANCELLED)
    assert letter["dlq.error.class"] == "HandlerFailed"
    assert "RuntimeError: a bug in the handler" in letter["dlq.error.message"]
    assert not InboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--countries", "XX"], "unknown: XX"),
        (["--countries", ","], "none given"),
        (["--batch-size", "0"], "at least 1"),
    ],
)
def test_bad_consume_options_are_clear_errors(topics, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("consume", *args)


def test_a_stopped_consumer_closes_its_dead_letter_producer(make_consumer):
    consumer = make_consumer()
    stop = threading.Event()
    stop.set()
    consumer.run(stop)
    # A producer left open keeps connecting to its brokers until the process ends.
    with pytest.raises(RuntimeError, match="closed"):
        consumer.dead_letters.producer.poll(0)
