"""Small helpers for tests that talk to the real broker."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from django.conf import settings

from events.messaging.kafka import admin_client, client_config, producer_config


def create_topic(name: str, partitions: int = 1) -> str:
    """A topic replicated as the session's broker wants (3 on a 3-node Apache Kafka cluster, else 1)."""
    admin = admin_client()  # the client must outlive its futures
    new = NewTopic(name, num_partitions=partitions, replication_factor=settings.KAFKA_REPLICATION_FACTOR)
    admin.create_topics([new])[name].result(timeout=30)
    return name


def produce_one_by_one(topic: str, values: list[bytes], key: bytes | None = None) -> None:
    """One flush per record: some brokers (tansu) report a low high watermark after a batch."""
    producer = Producer(producer_config())
    for value in values:
        producer.produce(topic, key=key, value=value)
        assert producer.flush(10) == 0


def read_all(
    topic: str,
    *,
    expect: int = sys.maxsize,
    timeout: float = 20.0,
    until: Callable[[list[Message]], bool] | None = None,
) -> list[Message]:
    """Reads a topic from the beginning, without a committing group, until `expect` messages arrived
    or, when given, `until` holds for those read so far (a topic other tests write to too)."""
    consumer = Consumer(client_config(**{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}))
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expect and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(500, 0.5) if not m.error()]
            if until is not None and until(messages):
                break
        return messages
    finally:
        consumer.close()


def read_to_end(topic: str, *, timeout: float = 30.0) -> list[Message]:
    """Every record of a topic up to its high watermarks now, doubles included, in partition order.

    Exact on Apache Kafka; tansu can report a low high watermark after a batch (DESIGN §6).
    """
    consumer = Consumer(client_config(**{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    positions = dict.fromkeys(ends, 0)
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while any(positions[p] < end for p, end in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: read up to {positions} of {ends} in {timeout}s"
            for message in consumer.consume(500, 0.5):
                if not message.error() and message.offset() < ends[message.partition()]:
                    messages.append(message)
                    positions[message.partition()] = message.offset() + 1
        return messages
    finally:
        consumer.close()
