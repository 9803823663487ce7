"""Real-broker helpers for the lag tests: topics, single-record producers, consumers that commit.

Records are produced and flushed one at a time: after a multi-record batch tansu reports a high
watermark of the batch's base offset + 1, which would read as too little lag.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition

from events.messaging.kafka import admin_client, consumer_config, producer_config

JOIN_TIMEOUT_SECONDS = 20


class SingleRecordProducer:
    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.producer = Producer(producer_config(**{"linger.ms": 0}))

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            self.producer.produce(self.topic, key=b"k", value=b"{}")
            assert self.producer.flush(10) == 0


def commit_offset(group: str, topic: str, offset: int) -> str:
    """Commits for ``group`` as an operator would, with no member: the group is Empty at once,
    without the wait of a consumer joining."""
    admin = admin_client()
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, offset)])
    admin.alter_consumer_group_offsets([request])[group].result(timeout=10)
    return group


def new_consumer(group: str, topic: str) -> Consumer:
    # A short fetch wait: each pass waits for its one record, not for a fuller fetch.
    consumer = Consumer(consumer_config(group, **{"fetch.wait.max.ms": 10}))
    consumer.subscribe([topic])
    return consumer


def consume_and_commit(consumer: Consumer, count: int) -> None:
    """Reads ``count`` records, committing each one synchronously."""
    deadline = time.monotonic() + JOIN_TIMEOUT_SECONDS
    received = 0
    while received < count:
        assert time.monotonic() < deadline, f"only {received} of {count} records arrived"
        message = consumer.poll(0.1)
        if message is None or message.error():
            continue
        consumer.commit(message=message, asynchronous=False)
        received += 1


def join_all(consumers: list[Consumer]) -> None:
    """Polls every consumer until each has its partitions: tansu assigns a new group after half the
    session timeout, so the groups wait together instead of one after another. Join before
    producing: a record polled here would be dropped uncommitted."""
    deadline = time.monotonic() + JOIN_TIMEOUT_SECONDS
    while not all(consumer.assignment() for consumer in consumers):
        assert time.monotonic() < deadline, "consumer groups were not assigned in time"
        for consumer in consumers:
            consumer.poll(0.05)
