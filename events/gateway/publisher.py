"""The gateway's long-lived Kafka producer, and writing one batch with a wait for its delivery reports.

One producer per process, shared by the process's threads (the web server's, refundtool.web) and made lazily, so that
a forking server makes it in each worker after the fork. It is idempotent with acks=all and the
Java-compatible murmur2 partitioner (events.messaging.kafka.producer_config). message.timeout.ms bounds how long
librdkafka retries, so every message of a batch ends with a definite delivery report.

Requests that arrive together are written together. Most of what a write costs, in librdkafka and
in the broker, is per produce request and partition batch rather than per record, so one request
of 100 events spread over every partition costs about as much as five (bench.gateway). While another
request of the process is waiting for its reports, a request's records wait in librdkafka's queue
for up to linger.ms (EVENTS_GATEWAY_LINGER_MS) and go out with the others. A request with nobody to
wait with sends at once, so a lone producer does not pay the linger in latency.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.conf import settings

from events.contracts.envelope import KafkaRecord
from events.messaging.kafka import UNCONFIRMED, producer_config, unconfirmed
from events.messaging.process import name_os_thread

logger = logging.getLogger(__name__)

_SEND_NOW_SECONDS = 0.001
_POLL_SECONDS = 0.05  # how soon the report thread notices that its producer is closing
REPORT_THREAD_NAME = "gw-reports"  # as the OS shows it: bench.gateway counts this thread's CPU apart
_lock = threading.Lock()
_producers: dict[tuple[object, ...], GatewayProducer] = {}


# The record itself is the problem: sending it again, to any broker, gets the same answer.
REFUSED_FOR_GOOD = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD})


class Refusal(NamedTuple):
    """Why the broker did not take a record."""

    error: str
    refused_for_good: bool = False  # a retry cannot help (see REFUSED_FOR_GOOD)


Delivery = Message | Refusal
"""A record's delivery report: the written Message (its partition() and offset()), or a Refusal."""


_UNCONFIRMED = Refusal(f"{UNCONFIRMED}; retry with the same eid")


def _refusal(error: KafkaError) -> Refusal:
    return Refusal(f"{error.name()}: {error.str()}", error.code() in REFUSED_FOR_GOOD)


class _Reports:
    """One batch's delivery reports, written by whichever thread serves them."""

    __slots__ = ("_count", "_size", "complete", "deliveries")

    def __init__(self, size: int) -> None:
        self.deliveries: list[Delivery | None] = [None] * size
        self._count = itertools.count(1)  # next() is atomic, so no lock is needed between threads
        self._size = size
        self.complete = threading.Event()
        if not size:
            self.complete.set()

    def add(self, index: int, delivery: Delivery) -> None:
        self.deliveries[index] = delivery
        if next(self._count) == self._size:
            self.complete.set()

    def on_delivery(self, index: int, error: KafkaError | None, message: Message) -> None:
        # Called once per record, in the report thread: the Message itself is kept, so a report
        # costs one call and no object of ours.
        if error is not None:
            self.deliveries[index] = _refusal(error)
        elif unconfirmed(message):
            self.deliveries[index] = _UNCONFIRMED
        else:
            self.deliveries[index] = message
        if next(self._count) == self._size:
            self.complete.set()


class GatewayProducer:
    """A producer and the thread that serves its delivery reports."""

    def __init__(self, config: dict[str, object]) -> None:
        self.producer = Producer(config)
        self._waiting = 0  # requests of this process waiting for their reports
        self._waiting_lock = threading.Lock()
        self._closing = threading.Event()
        self._report_thread = threading.Thread(target=self._serve_reports, name="gateway-delivery-reports", daemon=True)
        self._report_thread.start()

    def _serve_reports(self) -> None:
        name_os_thread(REPORT_THREAD_NAME)
        while not self._closing.is_set():
            try:
                self.producer.poll(_POLL_SECONDS)
            except Exception:  # a request's waiting threads depend on this thread going on
                logger.exception("a gateway delivery report could not be served")

    def close(self, timeout: float) -> None:
        self._closing.set()
        self._report_thread.join()
        self.producer.flush(timeout)
        self.producer.close()  # now, not whenever the last reference goes

    def publish(self, records: Sequence[KafkaRecord]) -> list[Delivery]:
        """Writes the records and waits for each one's delivery report; one Delivery per record, in order."""
        reports = _Reports(len(records))
        deadline = time.monotonic() + delivery_timeout_ms() / 1000 + 5
        produce = self.producer.produce
        for index, record in enumerate(records):
            on_delivery = functools.partial(reports.on_delivery, index)
            try:
                produce(record.topic, record.value, record.key, on_delivery=on_delivery, headers=record.headers)
                continue
            except KafkaException as exc:  # not queued (too large, unknown topic): no report will come
                reports.add(index, _refusal(exc.args[0]))
                continue
            except BufferError:
                pass
            # Retried outside the except block on purpose: confluent-kafka 2.16 leaks the exception being
            # handled when produce() raises inside its handler, and that exception's frame holds the
            # whole request.
            refused = self._produce_retrying(record, on_delivery, deadline)
            if refused is not None:
                reports.add(index, refused)
        with self._waiting_lock:
            alone = not self._waiting
            self._waiting += 1
        try:
            if alone:
                # flush() makes librdkafka send at once, ignoring linger.ms while it runs. Short calls:
                # the report thread serves the reports, so a flush waits out its timeout when that
                # thread took the last one, and it also waits for later requests' records.
                while not reports.complete.is_set() and time.monotonic() < deadline:
                    self.producer.flush(_SEND_NOW_SECONDS)
            else:
                reports.complete.wait(max(deadline - time.monotonic(), 0))
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        return [
            delivery or Refusal("no delivery report in time; retry with the same eid")
            for delivery in reports.deliveries
        ]

    def _produce_retrying(self, record: KafkaRecord, on_delivery: functools.partial, deadline: float) -> Refusal | None:
        """Queues a record while the queue is full; a Refusal only when it could not be queued at all."""
        while True:
            try:
                self.producer.produce(
                    record.topic, record.value, record.key, on_delivery=on_delivery, headers=record.headers
                )
                return None
            except BufferError:
                if time.monotonic() >= deadline:
                    return Refusal("the producer queue stayed full")
                time.sleep(_POLL_SECONDS)  # the report thread frees room in the queue meanwhile
            except KafkaException as exc:
                return _refusal(exc.args[0])


def delivery_timeout_ms() -> int:
    return settings.EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS


def gateway_producer() -> GatewayProducer:
    """This process's producer for the configured brokers."""
    client = tuple(sorted(settings.KAFKA_CLIENT_CONFIG.items()))
    linger_ms = settings.EVENTS_GATEWAY_LINGER_MS
    key = (
        os.getpid(),
        settings.KAFKA_BOOTSTRAP_SERVERS,
        client,
        settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES,
        delivery_timeout_ms(),
        linger_ms,
    )
    producer = _producers.get(key)
    if producer is None:
        with _lock:
            producer = _producers.get(key)
            if producer is None:
                producer = GatewayProducer(
                    producer_config(
                        **{
                            "message.timeout.ms": delivery_timeout_ms(),
                            "linger.ms": linger_ms,
                            "socket.nagle.disable": True,
                        }
                    )
                )
                _producers[key] = producer
    return producer


def close_producers(timeout: float = 5.0) -> None:
    """Flushes and drops this process's producers (at worker exit, or when the brokers change)."""
    with _lock:
        while _producers:
            _producers.popitem()[1].close(timeout)


def publish_batch(records: Sequence[KafkaRecord]) -> list[Delivery]:
    """Writes the records through this process's producer; one Delivery per record, in order."""
    return gateway_producer().publish(records)
