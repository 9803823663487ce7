"""Benchmark of the events-bus gateway against raw confluent-kafka produce, in one run.

    python -m bench.gateway [--rounds 3] [--events 30000] [--batch 100] [--concurrency 12] [--kafka apache]

Starts what it needs: a broker (tansu, or with --kafka apache a one-node Apache Kafka cluster), a
PostgreSQL database for the producer credential (created and dropped; DATABASE_URL names the
server, default postgres://postgres@127.0.0.1:5432) and the web process (`python -m refundtool.web`:
granian, a process per core, 4 threads each) serving the project on a free loopback port, with
production settings (DEBUG off).
The batched rounds keep --concurrency requests in flight (default 12: more than the server has threads,
as many producers sending at once would). Then it prints
events/s through the gateway in batches of 100 (--batch) and one event a request, single-event latency
(p50/p99, one client, nothing else running), the raw produce rate of the same records to the same
topic, and the batched rate as a share of the raw one (the goal is at least 15%). Gateway and raw
rounds alternate and the medians are reported, because the machine may be shared; even so the
rates swing from run to run, and bench.gateway.instructions gives the steadier figure to compare
versions by. The client is a lean HTTP/1.1 sender, since its CPU is taken from the server's cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench.gateway.client import Connection, failures_of, publish_request, wait_until_serving
from bench.gateway.workload import (
    EVENT_TYPE,
    RawProducer,
    database,
    gateway_environment,
    prepare,
    sample_events,
    scratch_database_url,
)
from bench.support import BROKER_KINDS, cpu_seconds, cpu_seconds_by_thread, local_broker
from events.gateway.publisher import REPORT_THREAD_NAME
from events.messaging.embedded_broker import free_port
from refundtool import web

PROJECT_DIR = Path(__file__).resolve().parents[2]
GOAL = 0.15
MAX_REQUEST_EVENTS = 1000  # events.gateway.views.MAX_EVENTS, which needs Django set up to import
# The gateway's threads by kind, for its CPU per event by thread: see _thread_kind.
GATEWAY_THREAD_KINDS = {"gateway_web": "web", "gateway_reports": "delivery reports", "gateway_rdkafka": "librdkafka"}
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
    parser.add_argument("--kafka", choices=BROKER_KINDS, default="tansu", help="the broker: tansu or apache (1 node)")
    args = parser.parse_args()

    with (
        local_broker(args.kafka) as (bootstrap_servers, broker_pids),
        tempfile.TemporaryDirectory(prefix="bench-gateway-") as var_dir,
    ):
        print(f"broker: {args.kafka} at {bootstrap_servers}")
        database_url = scratch_database_url()
        env = gateway_environment(bootstrap_servers, database_url, var_dir)
        os.environ.update(env)
        import django

        django.setup()
        with database(database_url):
            token = prepare(args.partitions)
            port = free_port()
            command = [
                *(sys.executable, "-m", "refundtool.web", "--port", str(port), "--log-level", "warning"),
                *(() if args.workers is None else ("--workers", str(args.workers))),
                *(() if args.threads is None else ("--threads", str(args.threads))),
            ]
            server = subprocess.Popen(command, cwd=PROJECT_DIR, env=env)
            try:
                wait_until_serving(port)
                report = _run(port, token, args, {"gateway": [server.pid], "broker": broker_pids})
            finally:
                server.terminate()
                server.wait(timeout=30)
    _print(report, args)


def _batch_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_REQUEST_EVENTS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_REQUEST_EVENTS}, what one request may carry")
    return size


def _post_all(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """Sends every body, `concurrency` at a time; returns the elapsed time and each request's latency."""
    requests = [publish_request(port, token, body) for body in bodies]  # built before the clock starts
    latencies: list[float] = []
    failures: list[str] = []
    cursor = iter(range(len(requests)))
    lock = threading.Lock()

    def send() -> None:
        connection = Connection(port)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                connection.close()
                return
            started = time.perf_counter()
            try:
                status, payload = connection.exchange(requests[index])
            except OSError:  # a server may close an idle keep-alive connection
                connection.close()
                connection = Connection(port)
                status, payload = connection.exchange(requests[index])
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(f"{status}: {failures_of(payload)}")

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


def _cpu_now(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time so far of the gateway and the broker, of this process alone (the client), and of the
    gateway's threads by kind: the web server's (HTTP and the requests' Python), the delivery-report
    threads, and librdkafka's."""
    by_kind = dict.fromkeys(GATEWAY_THREAD_KINDS, 0.0)
    for pid in pids["gateway"]:
        for name, seconds in cpu_seconds_by_thread(pid).items():
            by_kind[_thread_kind(name)] += seconds
    return {**cpu_seconds(pids), "client": sum(psutil.Process().cpu_times()[:2]), **by_kind}


def _thread_kind(name: str) -> str:
    if name == REPORT_THREAD_NAME:
        return "gateway_reports"
    return "gateway_rdkafka" if name.startswith("rdk:") else "gateway_web"


def _run(port: int, token: str, args: argparse.Namespace, pids: dict[str, list[int]]) -> dict[str, Any]:
    """Gateway and raw rounds alternate, so both see the same load from anything else on the machine."""
    batched = sample_events(args.events)
    singles = sample_events(args.single)
    samples = sample_events(args.latency_samples)
    raw = RawProducer(sample_events(args.events))
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
        for kind in GATEWAY_THREAD_KINDS:
            rounds[-1][f"{kind}_us"] = rounds[-1][f"cpu_{kind}"] / rounds[-1]["batched_rate"] * 1e6
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
    by_thread = ", ".join(f"{label} {median[f'{kind}_us']:.1f}" for kind, label in GATEWAY_THREAD_KINDS.items())
    print(f"    gateway CPU per event by thread (us): {by_thread}")
    print(f"  gateway, one event a request:        {report['single_rate']:>10,.0f} events/s ({args.single:,} events)")
    print(f"  single-event latency p50 / p99 (one client): {report['p50_ms']:.2f} / {report['p99_ms']:.2f} ms")
    print(f"  raw confluent-kafka produce (median): {median['raw_rate']:>10,.0f} events/s (same records, same topic)")
    verdict = "met" if median["ratio"] >= GOAL else "NOT met"
    print(f"  batched gateway / raw (median):       {median['ratio']:>10.1%}  (goal >= {GOAL:.0%}: {verdict})")


if __name__ == "__main__":
    main()
