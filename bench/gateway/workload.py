"""The gateway benchmarks' workload and set-up: events, a broker, a database, a credential, raw produce."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

EVENT_TYPE = "bob.refund_requested"
TOPIC = f"{EVENT_TYPE}.v1"


def gateway_environment(bootstrap_servers: str, database_url: str, var_dir: str) -> dict[str, str]:
    """The environment of a gateway process with production settings (DEBUG off) on this machine."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "DJANGO_SETTINGS_MODULE": "refundtool.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        # Production refuses the emulator's credentials; the gateway never calls the provider.
        "FISCAL_LOGIN": "bench",
        "FISCAL_PASSWORD": "bench-only-" + uuid.uuid4().hex,
        "FISCAL_ALLOW_HTTP": "1",
        "REFUNDTOOL_VAR_DIR": var_dir,
        "REFUNDTOOL_LOG_LEVEL": "WARNING",
        "EVENTS_GATEWAY_RATE_LIMIT": "0",  # the benchmark measures the gateway, not its rate limit
    }
    env.pop("REDIS_URL", None)
    return env


def scratch_database_url() -> str:
    """A database of this process's own on DATABASE_URL's server, for `database` to create."""
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refundtool"))
    return urlunsplit(base._replace(path=f"/refundtool_bench_gateway_{os.getpid()}"))


@contextmanager
def database(url: str) -> Iterator[None]:
    """Creates the database of `url` and drops it (with its connections) afterwards."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(partitions: int) -> str:
    """Migrates the (configured) database, makes the topic and a credential for EVENT_TYPE; its token."""
    from confluent_kafka.admin import NewTopic
    from django.core.management import call_command

    from events.gateway.services import producer_credential_create
    from events.messaging.kafka import admin_client

    call_command("migrate", verbosity=0)
    # Named as the sample events' metadata.producer: the gateway refuses events of another producer.
    _, token = producer_credential_create(name="bob-ru", event_types=[EVENT_TYPE])
    admin = admin_client()
    for future in admin.create_topics([NewTopic(TOPIC, partitions, 1)]).values():
        future.result(timeout=10)
    return token


def sample_events(count: int) -> list[dict]:
    from events.contracts.envelope import build_message

    def data(index: int) -> dict:
        return {
            "refund_request_id": str(uuid.uuid4()),
            "order_number": f"ORD-{index % 5000:06d}",
            "country": "RU",
            "currency": "RUB",
            "customer": {"email": "ivan@example.com", "phone": "+7 900 123-45-67"},
            "payment": {"payment_id": f"pay-{index}", "method": "card"},
            "items": [
                {
                    "item_id": f"item-{index}-{n}",
                    "sku": f"SKU-{n}",
                    "name": "Kettle, electric",
                    "quantity": 1,
                    "unit_price": "999.50",
                    "vat_rate": "22",
                    "reason": "arrived damaged",
                }
                for n in range(2)
            ],
            "delivery_amount": "300",
            "amount": "2299.00",
            "requested_at": "2026-03-02T10:00:00+03:00",
        }

    # Version 1, the request the README's figures measured ("payment" is a field of v1 only).
    return [
        build_message(EVENT_TYPE, data(index), country="RU", producer="bob-ru", version=1) for index in range(count)
    ]


class RawProducer:
    """confluent-kafka alone producing the gateway's records (value, key, headers), warm like the gateway's."""

    def __init__(self, messages: list[dict]) -> None:
        from confluent_kafka import Producer

        from events.contracts.envelope import kafka_record
        from events.messaging.kafka import producer_config

        received_at = "2026-03-02T10:00:00.123456+00:00"  # what the gateway adds, so the bytes match
        for message in messages:
            message["metadata"]["received_at"] = received_at
        self.records = [kafka_record(message) for message in messages]
        self.producer = Producer(producer_config())
        first = self.records[0]
        self.producer.produce(first.topic, first.value, first.key, headers=first.headers)
        self.producer.flush(10)  # connected, metadata known and producer id assigned before any clock starts

    def rate(self, passes: int) -> float:
        """Events/s producing every record `passes` times, then flushing (a short run is mostly jitter)."""
        producer = self.producer
        started = time.perf_counter()
        for _ in range(passes):
            for record in self.records:
                while True:
                    try:
                        producer.produce(record.topic, record.value, record.key, headers=record.headers)
                        break
                    except BufferError:
                        producer.poll(0.01)
                producer.poll(0)
        producer.flush(60)
        return passes * len(self.records) / (time.perf_counter() - started)
