"""The suite's brokers: tansu (the fast default) or an Apache Kafka cluster, chosen by TEST_KAFKA.

    TEST_KAFKA=tansu            one tansu process per session (and one per test that wants its own)
    TEST_KAFKA=apache           an Apache Kafka KRaft cluster of TEST_KAFKA_BROKERS nodes (default 3:
                                replication factor 3, min.insync.replicas 2)

A test that needs the specification's fixed topic names empty gets a tansu broker of its own; on
Apache Kafka, where a cluster takes seconds to start, it gets the session's cluster with every topic
and consumer group deleted instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from events.messaging.apache_kafka import ApacheKafkaCluster
from events.messaging.embedded_broker import EmbeddedBroker

KINDS = ("tansu", "apache")


def kind() -> str:
    value = os.environ.get("TEST_KAFKA", "tansu")
    if value not in KINDS:
        raise SystemExit(f"TEST_KAFKA must be one of {', '.join(KINDS)}, not {value!r}")
    return value


def apache_brokers() -> int:
    value = os.environ.get("TEST_KAFKA_BROKERS", "3")
    if value not in ("1", "3"):
        raise SystemExit(f"TEST_KAFKA_BROKERS must be 1 or 3, not {value!r}")
    return int(value)


@dataclass
class SessionBroker:
    bootstrap_servers: str
    replication_factor: int
    cluster: ApacheKafkaCluster | None = None


@contextmanager
def session_broker(directory: Path) -> Iterator[SessionBroker]:
    if kind() == "apache":
        with ApacheKafkaCluster(directory, brokers=apache_brokers()) as cluster:
            yield SessionBroker(cluster.bootstrap_servers, min(len(cluster.nodes), 3), cluster)
        return
    broker = EmbeddedBroker().start()
    try:
        yield SessionBroker(broker.bootstrap_servers, 1)
    finally:
        broker.stop()


def delete_topics_and_groups(bootstrap_servers: str, timeout: float = 30.0) -> None:
    """Leaves the cluster with no topic and no consumer group of ours, as a new cluster starts.

    Returns once every broker's metadata lists none of the deleted topics: a broker that lags behind
    the controller would still list a topic, and whoever asks it next would not create it again.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid]
    for future in admin.delete_consumer_groups(groups, request_timeout=10).values() if groups else []:
        # A group whose dead member has not timed out yet stays; its offsets go with the topics.
        with suppress(KafkaException):
            future.result()
    topics = {t for t in admin.list_topics(timeout=10).topics if not t.startswith("__")}
    if topics:
        for future in admin.delete_topics(sorted(topics), operation_timeout=10).values():
            future.result()
    deadline = time.monotonic() + timeout
    for address in bootstrap_servers.split(","):
        # A client of its own per broker: its first metadata request goes to that broker.
        while topics & set(AdminClient({"bootstrap.servers": address, "log_level": 0}).list_topics(timeout=10).topics):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} still lists deleted topics {timeout:.0f}s after their deletion")
            time.sleep(0.1)
