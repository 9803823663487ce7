"""Small helpers for tests that talk to the real broker."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from events.kafka import admin_client, client_config, producer_config


def create_topic(name: str, partitions: int = 1) -> str:
    admin_client().create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result()
    return name


def produce_one_by_one(topic: str, values: list[bytes], key: bytes | None = None) -> None:
    """One flush per record: some brokers (tansu) report a low high watermark after a batch."""
    producer = Producer(producer_config())
    for value in values:
        producer.produce(topic, key=key, value=value)
        assert producer.flush(10) == 0


def read_all(topic: str, *, expect: int, timeout: float = 20.0) -> list[Message]:
    """Reads a topic from the beginning, without a committing group, until `expect` messages arrived."""
    consumer = Consumer(client_config(**{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}))
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expect and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(500, 0.5) if not m.error()]
        return messages
    finally:
        consumer.close()
