"""Creates the topics of the specification and their dead-letter topics where they are missing."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic
from django.conf import settings

from events.contracts.specification import all_event_specs
from events.messaging.kafka import admin_client

DLQ_SUFFIX = ".dlq"


def dlq_topic_for(topic: str) -> str:
    return topic + DLQ_SUFFIX


def specified_topics() -> list[str]:
    topics = sorted({spec.topic for spec in all_event_specs()})
    return topics + [dlq_topic_for(topic) for topic in topics]


def topics_ensure(*, topics: list[str] | None = None, partitions: int | None = None) -> list[str]:
    """Returns the topics it created; topics that exist already are left as they are. New topics take
    REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES as their max.message.bytes, the limit the validation assumes."""
    admin = admin_client()
    wanted = topics if topics is not None else specified_topics()
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                topic,
                num_partitions=partitions or settings.KAFKA_TOPIC_PARTITIONS,
                replication_factor=settings.KAFKA_REPLICATION_FACTOR,
                config={"max.message.bytes": str(settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES)},
            )
            for topic in missing
        ],
        operation_timeout=10,
    )
    created = []
    for topic, future in futures.items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created
