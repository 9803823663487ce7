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
from django.test import Client

from events.messaging.apache_kafka import ApacheKafkaCluster
from events.messaging.embedded_broker import EmbeddedBroker, free_port
from tests.support import brokers
from tests.support.ops import SCRAPE_AUTH
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
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's broker (TEST_KAFKA: tansu or apache); settings and subprocesses point at it."""
    with brokers.session_broker(tmp_path_factory.mktemp("kafka")) as broker:
        saved = {name: os.environ.get(name) for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_REPLICATION_FACTOR")}
        settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
        settings.KAFKA_REPLICATION_FACTOR = broker.replication_factor
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        os.environ["KAFKA_REPLICATION_FACTOR"] = str(broker.replication_factor)
        _session_broker.append(broker)
        yield broker.bootstrap_servers
        _session_broker.clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_session_broker: list[brokers.SessionBroker] = []


@pytest.fixture
def kafka_cluster(kafka_bootstrap: str) -> ApacheKafkaCluster:
    """The session's Apache Kafka cluster, for tests that stop and start its brokers."""
    cluster = _session_broker[0].cluster
    if cluster is None:
        pytest.skip("needs TEST_KAFKA=apache: tansu is a single process with nothing to fail over")
    return cluster


@pytest.fixture
def ops_client() -> Client:
    """A client with the suite's scrape token, as Prometheus calls /metrics and /monitoring/*."""
    return Client(**SCRAPE_AUTH)


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
def fresh_broker(settings, monkeypatch, kafka_bootstrap: str) -> Iterator[str]:
    """A broker with no topic and no group yet, for flows that use the specification's fixed topic names.

    On tansu a broker of this test's own; on Apache Kafka the session's cluster, emptied first.
    """
    if _session_broker[0].cluster is not None:
        brokers.delete_topics_and_groups(kafka_bootstrap)
        yield kafka_bootstrap
        return
    broker = EmbeddedBroker().start()
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    yield broker.bootstrap_servers
    broker.stop()


@pytest.fixture
def cuttable_broker(settings, monkeypatch, tmp_path) -> Iterator[TcpProxy]:
    """A broker of this test's own that clients reach only through a proxy the test can cut.

    On Apache Kafka: a one-node cluster whose advertised port is the proxy's.
    """
    proxy_port = free_port()
    if brokers.kind() == "apache":
        cluster = ApacheKafkaCluster(tmp_path / "kafka", advertised_ports=[proxy_port])
        target, start, stop = cluster.nodes[0].port, cluster.start, cluster.stop
    else:
        broker = EmbeddedBroker(advertised_port=proxy_port)
        broker.port = free_port()
        target, start, stop = broker.port, broker.start, broker.stop
    with TcpProxy(target, listen_port=proxy_port) as proxy:
        start()
        settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{proxy_port}"
        settings.KAFKA_REPLICATION_FACTOR = 1
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{proxy_port}")
        monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "1")
        yield proxy
        stop()
