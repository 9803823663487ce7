"""The test harness: real PostgreSQL, Redis, a tansu broker and a Celery worker.

The suite stops at once, loudly, when PostgreSQL or Redis cannot be reached: a skipped suite
would look green while testing nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis
from django.conf import settings

from events.embedded_broker import EmbeddedBroker, free_port
from tests.support.tcp_proxy import TcpProxy


def pytest_sessionstart(session: pytest.Session) -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        try:
            psycopg.connect(
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.OperationalError as exc:
            pytest.exit(f"PostgreSQL is unreachable ({exc}); the suite needs it (see README).", returncode=2)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {settings.REDIS_URL} is unreachable ({exc}); the suite needs it.", returncode=2)


@pytest.fixture(scope="session", autouse=True)
def kafka_bootstrap() -> Iterator[str]:
    """A tansu broker for the whole session; settings and subprocesses point at it."""
    broker = EmbeddedBroker().start()
    previous_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    yield broker.bootstrap_servers
    broker.stop()
    if previous_env is None:
        os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    else:
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = previous_env


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Topic and group names of one test never meet another test's."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def _redis_flushed_once() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def redis_client(_redis_flushed_once: None) -> Iterator[redis.Redis]:
    """The suite's dedicated Redis database, flushed before each test that uses it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def celery_worker(redis_client: redis.Redis) -> Iterator[object]:
    """A real Celery worker on the test Redis, in threads of this process.

    Tests that use it need committed data: mark them ``django_db(transaction=True)``.
    """
    from celery.contrib.testing.worker import start_worker

    from refundtool.celery import app

    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False, queues=["default", "fiscal"], shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.fixture
def fresh_broker(settings, monkeypatch) -> Iterator[str]:
    """A broker of this test's own, for flows that use the specification's fixed topic names."""
    broker = EmbeddedBroker().start()
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    yield broker.bootstrap_servers
    broker.stop()


@pytest.fixture
def cuttable_broker(settings, monkeypatch) -> Iterator[TcpProxy]:
    """A broker of this test's own that clients reach only through a proxy the test can cut."""
    proxy_port = free_port()
    broker = EmbeddedBroker(advertised_port=proxy_port)
    broker.port = free_port()
    with TcpProxy(broker.port, listen_port=proxy_port) as proxy:
        broker.start()
        settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
        yield proxy
        broker.stop()
