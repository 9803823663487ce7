"""Kafka client configuration shared by every producer, consumer and admin client of the service."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message
from confluent_kafka.admin import AdminClient
from django.conf import settings

UNCONFIRMED = "the broker acknowledged the record without an offset: not confirmed in the log"


def client_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS}
    config.update(settings.KAFKA_CLIENT_CONFIG)
    config.update(overrides)
    return config


def producer_config(**overrides: Any) -> dict[str, Any]:
    """An idempotent producer: acks=all, no reordering or duplicates on retry.

    murmur2_random is the Java client's partitioner, so a key lands on the same partition
    whichever team's client writes it.
    """
    return client_config(
        **{
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "compression.type": "lz4",
            # A record the topics would refuse is refused here already, on every broker (tansu has no limit).
            "message.max.bytes": settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES,
            **overrides,
        }
    )


def unconfirmed(delivered: Message) -> bool:
    """Whether a delivery report without an error still does not confirm the record is in the log.

    librdkafka reports a retried send that the broker answered DUPLICATE_SEQUENCE_NUMBER as
    delivered, with no offset. Around a leader change of a young cluster such a record was seen
    missing from the log (bench.faults, CI), so every producer of ours sends it again instead of
    taking it as written; consumers drop a double by eid.
    """
    return delivered.offset() is None


def consumer_config(group_id: str, **overrides: Any) -> dict[str, Any]:
    """Offsets are committed by hand, only after the effect of a message is durable."""
    return client_config(
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": settings.KAFKA_SESSION_TIMEOUT_MS,
            "isolation.level": "read_committed",
            **overrides,
        }
    )


def admin_client(**overrides: Any) -> AdminClient:
    return AdminClient(client_config(**overrides))


def broker_check(timeout: float = 2.0) -> int:
    """Asks the cluster for its metadata; returns the number of brokers or raises KafkaException."""
    metadata = admin_client(**{"socket.timeout.ms": int(timeout * 1000)}).list_topics(timeout=timeout)
    return len(metadata.brokers)


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (the Java client's default partitioner hash), as an unsigned 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for start in range(0, length - length % 4, 4):
        k = int.from_bytes(data[start : start + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length - length % 4
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """The partition the Java producer picks for a key: toPositive(murmur2(key)) % partitions.

    librdkafka's murmur2_random partitioner (producer_config) agrees, so this says where any of the
    service's producers put a keyed record, without asking the broker.
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions
