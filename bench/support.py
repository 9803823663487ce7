"""What the benchmarks share: a scratch PostgreSQL database, CPU accounting and simple statistics."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_DATABASE_SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
BROKER_KINDS = ("tansu", "apache")


@contextmanager
def local_broker(kind: str) -> Iterator[tuple[str, list[int]]]:
    """A broker of the benchmark's own, stopped afterwards: tansu or a one-node Apache Kafka cluster.

    Yields its bootstrap servers and the pids whose CPU time is the broker's.
    """
    if kind == "apache":
        import tempfile
        from pathlib import Path

        from events.messaging.apache_kafka import ApacheKafkaCluster

        with tempfile.TemporaryDirectory(prefix="bench-kafka-") as directory, ApacheKafkaCluster(Path(directory)) as c:
            yield c.bootstrap_servers, [node.process.pid for node in c.nodes if node.process is not None]
        return
    from events.messaging.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    try:
        yield broker.bootstrap_servers, [broker.process.pid] if broker.process else []
    finally:
        broker.stop()


@contextmanager
def scratch_database(server: str, prefix: str) -> Iterator[str]:
    """Creates an empty database, yields its URL, and drops it (with its connections) afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server}/{name}"
        finally:
            from django.db import connections

            connections.close_all()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"bench: timed out after {timeout:.0f}s waiting for {what}")


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each named group of processes and their children.

    A process that has exited counts nothing; call this while the processes still run.
    """
    import psutil

    used: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                process = psutil.Process(pid)
                total += sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])
            except psutil.NoSuchProcess:
                continue
        used[name] = total
    return used


def cpu_seconds_by_thread(pid: int) -> dict[str, float]:
    """CPU time (user + system) used so far by the threads of a process and its children, by thread name.

    The name is the one the OS shows (/proc/<pid>/task/<tid>/comm): librdkafka names its threads
    rdk:..., and events.messaging.process.name_os_thread names the service's own. A thread that has exited
    counts nothing.
    """
    import psutil

    used: dict[str, float] = {}
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return used
    for process in processes:
        try:
            threads = process.threads()
        except psutil.NoSuchProcess:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{process.pid}/task/{thread.id}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            used[name] = used.get(name, 0.0) + thread.user_time + thread.system_time
    return used


def postgres_server_pids() -> list[int]:
    """The local PostgreSQL server's postmaster: with its children, every process of the server
    (backends, WAL writer, checkpointer, ...), including backends that start later."""
    import psutil

    servers = {p.pid: p for p in psutil.process_iter(["name", "ppid"]) if p.info["name"] in ("postgres", "postmaster")}
    return [pid for pid, process in servers.items() if process.info["ppid"] not in servers]
