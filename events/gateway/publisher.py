"""The gateway's long-lived Kafka producer, and writing one batch with a wait for its delivery reports.

One producer per process (librdkafka keeps connections, metadata and batching state), made lazily so
that a forking server makes it in each worker after the fork. It is idempotent with acks=all and the
Java-compatible murmur2 partitioner (events.kafka.producer_config). message.timeout.ms bounds how long
librdkafka retries, so every message of a batch ends with a definite delivery report.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.conf import settings

from events.envelope import KafkaRecord
from events.kafka import producer_config

_FLUSH_SLICE_SECONDS = 0.005
_lock = threading.Lock()
_producers: dict[tuple[object, ...], Producer] = {}


# The record itself is the problem: sending it again, to any broker, gets the same answer.
REFUSED_FOR_GOOD = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD})


class Delivery(NamedTuple):
    partition: int | None = None
    offset: int | None = None
    error: str | None = None  # why the broker did not take the record
    refused_for_good: bool = False  # a retry cannot help (see REFUSED_FOR_GOOD)


def _refusal(error: KafkaError) -> Delivery:
    return Delivery(error=f"{error.name()}: {error.str()}", refused_for_good=error.code() in REFUSED_FOR_GOOD)


def delivery_timeout_ms() -> int:
    return settings.EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS


def gateway_producer() -> Producer:
    """This process's producer for the configured brokers."""
    client = tuple(sorted(settings.KAFKA_CLIENT_CONFIG.items()))
    key = (os.getpid(), settings.KAFKA_BOOTSTRAP_SERVERS, client, delivery_timeout_ms())
    producer = _producers.get(key)
    if producer is None:
        with _lock:
            producer = _producers.get(key)
            if producer is None:
                producer = Producer(
                    producer_config(**{"message.timeout.ms": delivery_timeout_ms(), "socket.nagle.disable": True})
                )
                _producers[key] = producer
    return producer


def close_producers(timeout: float = 5.0) -> None:
    """Flushes and drops this process's producers (at worker exit, or when the brokers change)."""
    with _lock:
        while _producers:
            producer = _producers.popitem()[1]
            producer.flush(timeout)
            producer.close()  # now, not whenever the last reference goes


def publish_batch(records: Sequence[KafkaRecord]) -> list[Delivery]:
    """Writes the records and waits for each one's delivery report; one Delivery per record, in order."""
    producer = gateway_producer()
    reports: list[Delivery | None] = [None] * len(records)
    deadline = time.monotonic() + delivery_timeout_ms() / 1000 + 5
    produce = producer.produce
    for index, record in enumerate(records):
        on_delivery = functools.partial(_on_delivery, reports, index)
        try:
            produce(record.topic, record.value, record.key, on_delivery=on_delivery, headers=record.headers)
            continue
        except KafkaException as exc:  # not queued (too large, unknown topic): no report will come
            reports[index] = _refusal(exc.args[0])
            continue
        except BufferError:
            pass
        # Retried outside the except block on purpose: confluent-kafka 2.16 leaks the exception being
        # handled when produce() raises inside its handler, and that exception's frame holds the
        # whole request. Only a refusal is written here: another thread's flush may already have
        # served this record's report when produce() succeeds.
        refused = _produce_retrying(producer, record, on_delivery, deadline)
        if refused is not None:
            reports[index] = refused
    # flush() sends at once (it ignores linger.ms while it runs) and serves the delivery callbacks.
    # It returns when the producer's whole queue is empty; short calls keep a thread from waiting on
    # the batches of the process's other threads longer than a few milliseconds.
    while None in reports and time.monotonic() < deadline:
        producer.flush(min(deadline - time.monotonic(), _FLUSH_SLICE_SECONDS))
    return [report or Delivery(error="no delivery report in time; retry with the same eid") for report in reports]


def _produce_retrying(
    producer: Producer, record: KafkaRecord, on_delivery: functools.partial, deadline: float
) -> Delivery | None:
    """Queues a record while the queue is full; a Delivery only when it could not be queued at all."""
    while True:
        try:
            producer.produce(record.topic, record.value, record.key, on_delivery=on_delivery, headers=record.headers)
            return None
        except BufferError:
            if time.monotonic() >= deadline:
                return Delivery(error="the producer queue stayed full")
            producer.poll(0.05)  # serves delivery reports, which frees room in the queue
        except KafkaException as exc:
            return _refusal(exc.args[0])


def _on_delivery(reports: list[Delivery | None], index: int, error: KafkaError | None, message: Message) -> None:
    if error is None:
        reports[index] = Delivery(message.partition(), message.offset())
    else:
        reports[index] = _refusal(error)
