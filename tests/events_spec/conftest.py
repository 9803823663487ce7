from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import orjson
import pytest
from confluent_kafka import Consumer, Message, TopicPartition
from django.test import RequestFactory

from events.contracts.specification import all_event_specs
from events.gateway import publisher
from events.gateway.services import producer_credential_create
from events.messaging.kafka import admin_client, client_config
from events.messaging.topics import topics_ensure
from tests.support.processes import wait_for
from tests.support.wsgi import wsgi_call

PARTITIONS = 6


@pytest.fixture
def spec_topics(kafka_bootstrap: str) -> dict[str, int]:
    """Every topic of the specification, with its partition count (made with 6 unless it exists).

    Made again where missing before each test: on Apache Kafka a test that wants an empty broker
    deletes every topic of the session's cluster.
    """
    topics = sorted({spec.topic for spec in all_event_specs()})
    topics_ensure(topics=topics, partitions=PARTITIONS)
    admin = admin_client()

    def known() -> dict[str, int]:
        # The broker asked may learn of a topic a moment after the controller made it (Apache Kafka).
        listed = admin.list_topics(timeout=10).topics
        partitions = {topic: len(listed[topic].partitions) if topic in listed else 0 for topic in topics}
        return {topic: count for topic, count in partitions.items() if count}

    wait_for(lambda: len(known()) == len(topics), timeout=30, message=lambda: f"topics known: {known()}")
    return known()


@pytest.fixture(scope="session", autouse=True)
def _gateway_producers_closed(kafka_bootstrap: str) -> Iterator[None]:
    """Closes the gateway's producers before the broker stops (tansu lingers over open connections)."""
    yield
    publisher.close_producers(timeout=0)


@pytest.fixture
def fresh_producers() -> Iterator[None]:
    """A test that points the gateway at other brokers or settings leaves no producer behind."""
    yield
    publisher.close_producers(timeout=0)


@pytest.fixture
def gateway(db, spec_topics) -> Callable[..., Gateway]:
    def make(
        event_types: list[str] | None = None, *, name: str | None = None, countries: tuple[str, ...] = ()
    ) -> Gateway:
        event_types = event_types if event_types is not None else ["bob.refund_requested", "refund.update"]
        credential, token = producer_credential_create(
            name=name or f"team-{uuid.uuid4().hex[:8]}", event_types=event_types, countries=countries
        )
        return Gateway(token, credential.name)

    return make


class Gateway:
    """A client of the gateway with a producer's token, calling the web process's WSGI application.

    A producer publishes under its credential's name: post() sets metadata.producer to it in every
    event of the body (stamp=False sends the body as it is).
    """

    def __init__(self, token: str | None, name: str = "") -> None:
        self.token = token
        self.name = name

    def post(
        self,
        event_type: str,
        body: object,
        *,
        content_type: str = "application/json",
        stamp: bool = True,
        **headers: str,
    ):
        if stamp and self.name:
            for event in body if isinstance(body, list) else [body]:
                if isinstance(event, dict) and isinstance(event.get("metadata"), dict):
                    event["metadata"]["producer"] = self.name
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        if self.token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        request = RequestFactory().post(f"/api/events/{event_type}", raw, content_type=content_type, **headers)
        return wsgi_call(request.environ)


def read_records(topic: str, positions: list[tuple[int, int]]) -> dict[tuple[int, int], Message]:
    """The raw records at (partition, offset) positions of a topic, read with a plain consumer."""
    wanted = set(positions)
    start: dict[int, int] = {}
    for partition, offset in wanted:
        start[partition] = min(offset, start.get(partition, offset))
    consumer = Consumer(client_config(**{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, partition, offset) for partition, offset in start.items()])
    found: dict[tuple[int, int], Message] = {}
    try:
        for _ in range(200):
            if wanted <= found.keys():
                break
            for message in consumer.consume(num_messages=500, timeout=1):
                if message.error() is None and (message.partition(), message.offset()) in wanted:
                    found[(message.partition(), message.offset())] = message
    finally:
        consumer.close()
    assert wanted <= found.keys(), f"records not found: {sorted(wanted - found.keys())}"
    return found
