"""The consumer's batch path writes what the message-by-message path writes, and routes the same messages.

The same Kafka messages go through EventConsumer.process three ways: with the batch handler of
bob.refund_requested (set-based inbox insert and refund_request_many), with no batch handler (one
savepoint and one refund_request per message), and with a batch handler that fails (the run is
undone and applied one by one). The database rows, the outbox payloads and the dead letters must
be the same, apart from what is new every time (ids, eids of outgoing events, timestamps).
"""

from __future__ import annotations

import random
import re
import threading
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer, TopicPartition
from django.core.management import call_command
from prometheus_client import REGISTRY

from events.contracts.envelope import build_message
from events.messaging import consumer as consumer_module
from events.messaging.consumer import EventConsumer
from events.messaging.kafka import producer_config
from events.messaging.models import InboxMessage, OutboxMessage
from refundtool.models import Refund, RefundItem, RefundTransition
from refundtool.services import Actor, refund_request
from refundtool.simulation import REQUEST_VERSION, fake_refund_request
from tests.support.kafka import read_all

pytestmark = pytest.mark.kafka

TOPIC = "bob.refund_requested.v1"
# New every time: ids, eids of outgoing events, timestamps.
VOLATILE = {"id", "refund_id", "eid"} | {
    "created_at",
    "updated_at",
    "status_changed_at",
    "at",
    "received_at",
    "occurred_at",
}


@pytest.fixture
def refund_requests(fresh_broker) -> list[Any]:
    """One partition of refund requests: new ones, repeats, a conflict, a poison message, a duplicate eid."""
    call_command("ensure_topics", "--partitions", "1", verbosity=0)
    rng = random.Random(21)

    def request(country: str, **overrides: Any) -> dict[str, Any]:
        data = fake_refund_request(rng, country=country) | overrides
        return build_message("bob.refund_requested", data, country=country, producer="bob", version=REQUEST_VERSION)

    first, second = request("RU"), request("KZ")
    conflicting = request("RU", refund_request_id=first["data"]["refund_request_id"])
    known_before = request("BY")
    values = [
        orjson.dumps(message)
        for message in (
            first,
            second,
            conflicting,  # same refund_request_id as `first`, other content: dead-lettered
            request("RU") | {"data": first["data"]},  # a new eid, the same request: a no-op
            request("BY"),
            known_before,  # its refund exists before the consumer starts: a no-op
        )
    ]
    values.append(b'{"metadata": {"eid": "not-a-uuid"}, "data"')  # poison: ends the run
    values += [orjson.dumps(request("UA")), orjson.dumps(second), orjson.dumps(request("RU"))]  # second: same eid
    producer = Producer(producer_config())
    for value in values:
        producer.produce(TOPIC, key=b"ORDER", value=value)
    assert producer.flush(10) == 0
    messages = read_all(TOPIC, expect=len(values))
    assert len(messages) == len(values)
    return [messages, known_before["data"]]


def consume(messages: list[Any], group: str) -> None:
    consumer = EventConsumer(
        group=group,
        event_types=["bob.refund_requested"],
        countries=None,
        batch_size=100,
        retry_window_seconds=60,
        handler_attempts=3,
    )
    consumer.consumer.assign([TopicPartition(TOPIC, 0, 0)])
    try:
        consumer.process(messages, threading.Event())
    finally:
        consumer.close()


def stable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in VOLATILE}


def database_state() -> dict[str, Any]:
    request_id_of = dict(Refund.objects.values_list("id", "refund_request_id"))
    outbox = []
    for row in OutboxMessage.objects.order_by("id").values():
        message = row.pop("message")
        outbox.append(
            stable(row)
            | {
                "headers": row["headers"]["event_type"],
                "metadata": stable(message["metadata"]),
                "data": stable(message["data"]) | {"refund_request_id": message["data"]["refund_request_id"]},
            }
        )
    return {
        "refunds": sorted((stable(row) for row in Refund.objects.values()), key=lambda r: str(r["refund_request_id"])),
        "items": sorted(
            (stable(row) | {"refund": request_id_of[row["refund_id"]]} for row in RefundItem.objects.values()),
            key=lambda r: (str(r["refund"]), r["item_id"]),
        ),
        "transitions": sorted(
            (stable(row) | {"refund": request_id_of[row["refund_id"]]} for row in RefundTransition.objects.values()),
            key=lambda r: (str(r["refund"]), r["sequence"]),
        ),
        # The relay keeps the order of the rows of one key (one order, one refund), not across them.
        "outbox": sorted(outbox, key=lambda r: r["data"]["refund_request_id"]),
        "inbox": sorted(
            (stable(row) | {"eid": row["eid"], "group": ""} for row in InboxMessage.objects.values()),
            key=lambda r: r["offset"],
        ),
    }


def reset(known_before: dict[str, Any]) -> None:
    InboxMessage.objects.all().delete()
    OutboxMessage.objects.all().delete()
    RefundTransition.objects.all().delete()
    RefundItem.objects.all().delete()
    Refund.objects.all().delete()
    refund_request(data=known_before, actor=Actor.user("support.anna"))
    OutboxMessage.objects.all().delete()


def dead_letters(expect: int) -> list[tuple[str, str, str]]:
    letters = read_all(TOPIC + ".dlq", expect=expect)
    return [
        (
            headers["dlq.original.offset"],
            headers["dlq.error.class"],
            re.sub(r"by refund [0-9a-f-]{36}", "by refund <id>", headers["dlq.error.message"]),  # new every run
        )
        for headers in ({k: v.decode() for k, v in letter.headers()} for letter in letters)
    ]


def consumed_counts() -> dict[str, float]:
    """This process's refundtool_events_consumed_total of refund requests, by outcome."""
    return {
        outcome: REGISTRY.get_sample_value(
            "refundtool_events_consumed_total", {"event_type": "bob.refund_requested", "outcome": outcome}
        )
        or 0.0
        for outcome in ("processed", "duplicate")
    }


def counts_since(before: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    now = consumed_counts()
    return {outcome: now[outcome] - before[outcome] for outcome in now}, now


def failing_batch_handler(events: Any) -> dict[int, str]:
    raise RuntimeError("a bug in the batch handler")


@pytest.mark.django_db
def test_batch_path_writes_and_routes_like_the_one_by_one_path(refund_requests, monkeypatch):
    messages, known_before = refund_requests

    counted = consumed_counts()
    reset(known_before)
    consume(messages, "batched")
    batched = database_state()
    batched_letters = dead_letters(expect=2)
    batched_counts, counted = counts_since(counted)

    reset(known_before)
    with monkeypatch.context() as patch:
        patch.setattr(consumer_module, "batch_handler_for", lambda event_type: None)
        consume(messages, "one-by-one")
    one_by_one = database_state()
    one_by_one_letters = dead_letters(expect=4)[2:]
    one_by_one_counts, counted = counts_since(counted)

    reset(known_before)
    with monkeypatch.context() as patch:
        patch.setattr(consumer_module, "batch_handler_for", lambda event_type: failing_batch_handler)
        consume(messages, "fallback")
    fallback = database_state()
    fallback_letters = dead_letters(expect=6)[4:]
    fallback_counts, _ = counts_since(counted)

    assert len(batched["refunds"]) == 6  # five new and the one known before
    # Two snapshots and item_ready_to_refund each, every one in v1 and v2 (a v1 request is one tender).
    assert len(batched["outbox"]) == 5 * 3 * 2
    assert len(batched["inbox"]) == 7  # all but the conflict, the poison and the repeated eid
    assert [offset for offset, _, _ in batched_letters] == ["2", "6"]
    assert batched_letters[0][1:] == ("RejectMessage", batched_letters[0][2])
    assert batched_letters[0][2].startswith("RequestConflictError: ")
    assert batched == one_by_one
    assert batched_letters == one_by_one_letters
    assert fallback == one_by_one
    assert fallback_letters == one_by_one_letters
    # The batch path counts its events once per outcome; the metric must not tell the paths apart.
    assert batched_counts == one_by_one_counts == fallback_counts == {"processed": 7, "duplicate": 1}


@pytest.mark.django_db
def test_a_redelivered_batch_changes_nothing(refund_requests):
    messages, known_before = refund_requests
    reset(known_before)
    consume(messages, "redelivered")
    before = database_state()
    consume(messages, "redelivered")
    assert database_state() == before
