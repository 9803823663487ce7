"""Two versions of the gateway under the same load at the same time: which one costs less CPU per event.

    python -m bench.gateway.paired [--baseline HEAD] [--rounds 5] [--seconds 8] [--connections 6]
                                   [--batch 100] [--workers 1]

On a shared machine the host's speed changes by a third within minutes, so two bench.gateway runs
a minute apart cannot tell a 10% change from the weather. Here the baseline (a git ref, checked out
in a temporary worktree) and the working tree each run their own web process, against one tansu
broker, one database and one producer credential, and take the same load in the same seconds:
--connections keep-alive connections each, sending batches of --batch events. Per round it prints
each version's events/s and gateway CPU per event and their ratio (working tree / baseline), then
the median. Two copies of the same code measured 0.98 to 1.03 on 2026-12-05.

Both versions must accept the database of the working tree's migrations. The CPU figure counts
the web process and its workers, librdkafka's threads included; the broker is shared and not in it.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from bench.gateway.client import Connection, failures_of, publish_request, wait_until_serving
from bench.gateway.workload import database, gateway_environment, prepare, sample_events, scratch_database_url
from bench.support import cpu_seconds, local_broker
from events.messaging.embedded_broker import free_port
from refundtool.web import positive_int

PROJECT_DIR = Path(__file__).resolve().parents[2]
DISTINCT_BODIES = 50
WARM_UP_SECONDS = 1.0  # of every round, before its counting starts


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway.paired",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--baseline", default="HEAD", help="git ref of the version to compare with (default HEAD)")
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--seconds", type=_seconds, default=8.0, help="counted seconds of a round")
    parser.add_argument("--connections", type=positive_int, default=6, help="connections sending to each version")
    parser.add_argument("--batch", type=positive_int, default=100, help="events a request")
    parser.add_argument("--workers", type=positive_int, default=1, help="web workers of each version")
    args = parser.parse_args()

    with (
        _worktree(args.baseline) as baseline_dir,
        local_broker("tansu") as (bootstrap_servers, _),
        tempfile.TemporaryDirectory(prefix="bench-paired-") as var_dir,
    ):
        database_url = scratch_database_url()
        env = gateway_environment(bootstrap_servers, database_url, var_dir)
        os.environ.update(env)
        import django

        django.setup()
        with database(database_url):
            token = prepare(partitions=6)
            versions = {"baseline": baseline_dir, "working tree": PROJECT_DIR}
            ports = {name: free_port() for name in versions}
            web = [sys.executable, "-m", "refundtool.web", "--workers", str(args.workers), "--log-level", "warning"]
            servers = {
                name: subprocess.Popen([*web, "--port", str(ports[name])], cwd=directory, env=env)
                for name, directory in versions.items()
            }
            try:
                for port in ports.values():
                    wait_until_serving(port)
                rounds = _run(ports, {name: server.pid for name, server in servers.items()}, token, args)
            finally:
                for server in servers.values():
                    server.terminate()
                for server in servers.values():
                    server.wait(timeout=30)
    _print(rounds, args)


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


@contextmanager
def _worktree(ref: str) -> Iterator[Path]:
    """The project at `ref`, checked out in a temporary git worktree and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-paired-baseline-") as parent:
        directory = Path(parent) / "baseline"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(directory), ref], cwd=PROJECT_DIR, capture_output=True, text=True
        )
        if added.returncode != 0:
            sys.exit(f"bench.gateway.paired: cannot check out {ref!r}: {added.stderr.strip()}")
        try:
            yield directory
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(directory)], cwd=PROJECT_DIR, check=False)


def _run(ports: dict[str, int], pids: dict[str, int], token: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """Rounds of simultaneous load on both versions; a warm-up round first, not reported."""
    bodies = [orjson.dumps(sample_events(args.batch)) for _ in range(DISTINCT_BODIES)]
    requests = {name: [publish_request(port, token, body) for body in bodies] for name, port in ports.items()}
    groups = {name: [pid] for name, pid in pids.items()}
    rounds = []
    for number in range(args.rounds + 1):
        stop = threading.Event()
        sent = {name: [0] * args.connections for name in ports}
        failures: list[str] = []
        senders = [
            threading.Thread(target=_send, args=(ports[name], requests[name], sent[name], index, stop, failures))
            for name in ports
            for index in range(args.connections)
        ]
        for sender in senders:
            sender.start()
        time.sleep(WARM_UP_SECONDS)
        events_before = {name: sum(counts) for name, counts in sent.items()}
        cpu_before = cpu_seconds(groups)
        time.sleep(args.seconds)
        cpu_after = cpu_seconds(groups)
        events_after = {name: sum(counts) for name, counts in sent.items()}
        stop.set()
        for sender in senders:
            sender.join()
        if failures:
            raise SystemExit(f"bench.gateway.paired: {len(failures)} requests failed, first: {failures[0]}")
        if number == 0:
            continue  # warm-up: producers connected, credentials cached, code paths hot
        result: dict[str, float] = {}
        for name in ports:
            events = (events_after[name] - events_before[name]) * args.batch
            result[f"{name} rate"] = events / args.seconds
            result[f"{name} cpu_us"] = (cpu_after[name] - cpu_before[name]) / max(events, 1) * 1e6
        result["ratio"] = result["working tree cpu_us"] / result["baseline cpu_us"]
        rounds.append(result)
        _print_round(number, result)
    return rounds


def _send(
    port: int, requests: list[bytes], sent: list[int], index: int, stop: threading.Event, failures: list[str]
) -> None:
    """Sends the requests round and round until `stop`; counts the answered ones in sent[index]."""
    connection = Connection(port)
    position = index  # the connections start at different bodies
    try:
        while not stop.is_set():
            status, payload = connection.exchange(requests[position % len(requests)])
            if status != 200:
                failures.append(f"{status}: {failures_of(payload)}")
                return
            sent[index] += 1
            position += 1
    finally:
        connection.close()


def _print_round(number: int, result: dict[str, float]) -> None:
    baseline = f"{result['baseline rate']:>7,.0f} events/s {result['baseline cpu_us']:5.1f} us/event"
    working = f"{result['working tree rate']:>7,.0f} events/s {result['working tree cpu_us']:5.1f} us/event"
    print(
        f"  round {number}: baseline {baseline} | working tree {working} | CPU per event, working tree / baseline "
        f"{result['ratio']:.2f}",
        flush=True,
    )


def _print(rounds: list[dict[str, float]], args: argparse.Namespace) -> None:
    ratios = [result["ratio"] for result in rounds]
    print(
        f"gateway CPU per event, working tree / {args.baseline}: median {statistics.median(ratios):.2f} "
        f"(rounds {min(ratios):.2f} to {max(ratios):.2f}; {args.rounds} rounds of {args.seconds:g} s, "
        f"{args.connections} connections of {args.batch} events to each, {args.workers} worker(s) each)"
    )


if __name__ == "__main__":
    main()
