"""Kafka client configuration shared by every producer, consumer and admin client of the service."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AdminClient
from django.conf import settings


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
            **overrides,
        }
    )


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
