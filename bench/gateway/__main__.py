"""Benchmark of the events-bus gateway against raw confluent-kafka produce, in one run.

    python -m bench.gateway [--rounds 3] [--events 30000] [--batch 100] [--concurrency 12] [--workers N] [--threads N]

Starts what it needs: a tansu broker, a PostgreSQL database for the producer credential (created and
dropped; DATABASE_URL names the server, default postgres://postgres@127.0.0.1:5432) and the web
process (`python -m refundtool.web`: granian, a process per core, 4 threads each) serving the
project on a free loopback port, with production settings (DEBUG off).
The batched rounds keep --concurrency requests in flight (default 12: more than the server has threads,
as many producers sending at once would). Then it prints
events/s through the gateway in batches of 100 (--batch) and one event a request, single-event latency
(p50/p99, one client, nothing else running), the raw produce rate of the same records to the same
topic, and the batched rate as a share of the raw one (the goal is at least 15%). Gateway and raw
rounds alternate and the medians are reported, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psutil
import psycopg

from bench.support import cpu_seconds
from events.embedded_broker import EmbeddedBroker, free_port
from refundtool import web

PROJECT_DIR = Path(__file__).resolve().parents[2]
EVENT_TYPE = "bob.refund_requested"
TOPIC = f"{EVENT_TYPE}.v1"
GOAL = 0.15
MAX_REQUEST_EVENTS = 1000  # events.gateway.views.MAX_EVENTS, which needs Django set up to import
RAW_PASSES = 5  # the raw producer is ~10x faster: more events keep its measurement as long as the gateway's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="events sent in batches, per round")
    parser.add_argument("--rounds", type=int, default=3, help="gateway and raw rounds, alternating")
    parser.add_argument("--batch", type=_batch_size, default=100, help="events a request, 1 to 1000 (default 100)")
    parser.add_argument("--single", type=int, default=3_000, help="events sent one a request")
    parser.add_argument("--latency-samples", type=int, default=1_000)
    parser.add_argument("--workers", type=int, help="web worker processes (default: the web process's, a core each)")
    parser.add_argument("--threads", type=int, help="threads per web worker (default: the web process's, 4)")
    parser.add_argument("--concurrency", type=int, default=12, help="client connections sending at once")
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()

    with _running(EmbeddedBroker().start()) as broker, tempfile.TemporaryDirectory(prefix="bench-gateway-") as var_dir:
        database_url = _database_url()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "DJANGO_SETTINGS_MODULE": "refundtool.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "REFUNDTOOL_VAR_DIR": var_dir,
            "REFUNDTOOL_LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        os.environ.update(env)
        import django

        django.setup()
        with _database(database_url):
            token = _prepare(args.partitions)
            port = free_port()
            command = [
                *(sys.executable, "-m", "refundtool.web", "--port", str(port), "--log-level", "warning"),
                *(() if args.workers is None else ("--workers", str(args.workers))),
                *(() if args.threads is None else ("--threads", str(args.threads))),
            ]
            server = subprocess.Popen(command, cwd=PROJECT_DIR, env=env)
            try:
                _wait_until_serving(port)
                report = _run(port, token, args, {"gateway": [server.pid], "broker": [broker.process.pid]})
            finally:
                server.terminate()
                server.wait(timeout=30)
    _print(report, args)


def _batch_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_REQUEST_EVENTS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_REQUEST_EVENTS}, what one request may carry")
    return size


@contextmanager
def _running(broker: EmbeddedBroker) -> Iterator[EmbeddedBroker]:
    try:
        yield broker
    finally:
        broker.stop()


def _database_url() -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refundtool"))
    return urlunsplit(base._replace(path=f"/refundtool_bench_gateway_{os.getpid()}"))


@contextmanager
def _database(url: str) -> Iterator[None]:
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


def _prepare(partitions: int) -> str:
    from confluent_kafka.admin import NewTopic
    from django.core.management import call_command

    from events.gateway.services import producer_credential_create
    from events.kafka import admin_client

    call_command("migrate", verbosity=0)
    _, token = producer_credential_create(name="bench", event_types=[EVENT_TYPE])
    admin = admin_client()
    for future in admin.create_topics([NewTopic(TOPIC, partitions, 1)]).values():
        future.result(timeout=10)
    return token


def _wait_until_serving(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the web process did not serve on port {port} within {timeout}s")


def _events(count: int) -> list[dict]:
    from events.envelope import build_message

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

    return [build_message(EVENT_TYPE, data(index), country="RU", producer="bob-ru") for index in range(count)]


def _post_all(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """Sends every body, `concurrency` at a time; returns the elapsed time and each request's latency."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    failures: list[str] = []
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()

    def send() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            started = time.perf_counter()
            try:
                connection.request("POST", f"/api/events/{EVENT_TYPE}", bodies[index], headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):  # a server may close an idle keep-alive connection
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("POST", f"/api/events/{EVENT_TYPE}", bodies[index], headers)
                response = connection.getresponse()
                payload = response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(f"{response.status}: {_failures_of(payload)}")
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    threads = [threading.Thread(target=send) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed, latencies


def _failures_of(payload: bytes) -> str:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return repr(payload[:300])
    failed = [event for event in body.get("events", []) if event["status"] == "failed"]
    return f"{body['code']}: {body['message']}; first failed: {failed[:1]}"


class RawProducer:
    """confluent-kafka alone producing the gateway's records (value, key, headers), warm like the gateway's."""

    def __init__(self, messages: list[dict]) -> None:
        from confluent_kafka import Producer

        from events.envelope import kafka_record
        from events.kafka import producer_config

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


def _cpu_now(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time so far of the gateway and the broker, and of this process alone (the client)."""
    return {**cpu_seconds(pids), "client": sum(psutil.Process().cpu_times()[:2])}


def _run(port: int, token: str, args: argparse.Namespace, pids: dict[str, list[int]]) -> dict[str, Any]:
    """Gateway and raw rounds alternate, so both see the same load from anything else on the machine."""
    batched = _events(args.events)
    singles = _events(args.single)
    samples = _events(args.latency_samples)
    raw = RawProducer(_events(args.events))
    event_bytes = statistics.mean(len(record.value) for record in raw.records[:1000])
    size = args.batch
    batch_bodies = [orjson.dumps(batched[start : start + size]) for start in range(0, len(batched), size)]

    _post_all(port, token, batch_bodies[: args.concurrency * 20], args.concurrency)  # every worker warm
    rounds = []
    for _ in range(args.rounds):
        cpu_before = _cpu_now(pids)
        batch_seconds, batch_latencies = _post_all(port, token, batch_bodies, args.concurrency)
        cpu_after = _cpu_now(pids)
        rounds.append(
            {
                "batched_rate": len(batched) / batch_seconds,
                "raw_rate": raw.rate(RAW_PASSES),
                "batch_p50_ms": _percentile(batch_latencies, 50) * 1000,
                "batch_p99_ms": _percentile(batch_latencies, 99) * 1000,
                **{f"cpu_{name}": (cpu_after[name] - cpu_before[name]) / batch_seconds for name in cpu_before},
            }
        )
        rounds[-1]["ratio"] = rounds[-1]["batched_rate"] / rounds[-1]["raw_rate"]
        # Steadier than the rates on a shared machine: it does not count time lost to other processes.
        rounds[-1]["gateway_cpu_us"] = rounds[-1]["cpu_gateway"] / rounds[-1]["batched_rate"] * 1e6
    single_seconds, _ = _post_all(port, token, [orjson.dumps(message) for message in singles], args.concurrency)
    _, latencies = _post_all(port, token, [orjson.dumps(message) for message in samples], 1)
    return {
        "event_bytes": event_bytes,
        "rounds": rounds,
        "median": {key: statistics.median(round_[key] for round_ in rounds) for key in rounds[0]},
        "single_rate": len(singles) / single_seconds,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
    }


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def _print(report: dict[str, Any], args: argparse.Namespace) -> None:
    median = report["median"]
    print(f"events-bus gateway benchmark: {EVENT_TYPE} events of {report['event_bytes']:.0f} bytes, topic of")
    print(
        f"{args.partitions} partitions, web process of {args.workers or web.default_workers()} workers of "
        f"{args.threads or web.default_threads()} threads, {args.concurrency} client connections, "
        f"{args.rounds} rounds of {args.events:,} events"
    )
    for number, round_ in enumerate(report["rounds"], start=1):
        print(
            f"  round {number}: gateway {round_['batched_rate']:>8,.0f} events/s, raw {round_['raw_rate']:>9,.0f} "
            f"events/s, ratio {round_['ratio']:.1%}, gateway CPU {round_['gateway_cpu_us']:.0f} us/event"
        )
    print(f"  gateway, batches of {args.batch} (median):   {median['batched_rate']:>10,.0f} events/s")
    print(f"    request latency p50 / p99:          {median['batch_p50_ms']:.1f} / {median['batch_p99_ms']:.1f} ms")
    print(
        f"    cores busy: gateway {median['cpu_gateway']:.2f}, broker {median['cpu_broker']:.2f}, "
        f"client {median['cpu_client']:.2f} (of {os.cpu_count()}); gateway CPU per event "
        f"{median['gateway_cpu_us']:.1f} us"
    )
    print(f"  gateway, one event a request:        {report['single_rate']:>10,.0f} events/s ({args.single:,} events)")
    print(f"  single-event latency p50 / p99 (one client): {report['p50_ms']:.2f} / {report['p99_ms']:.2f} ms")
    print(f"  raw confluent-kafka produce (median): {median['raw_rate']:>10,.0f} events/s (same records, same topic)")
    verdict = "met" if median["ratio"] >= GOAL else "NOT met"
    print(f"  batched gateway / raw (median):       {median['ratio']:>10.1%}  (goal >= {GOAL:.0%}: {verdict})")


if __name__ == "__main__":
    main()
