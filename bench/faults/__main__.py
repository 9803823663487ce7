"""The project's own fault suite: the refund flow through real processes, with faults injected one after another.

    python -m bench.faults [--kafka tansu|apache] [--short] [--outage-seconds 20] [--rate 4]

It starts a PostgreSQL cluster, Redis and a broker of its own (tansu, or with --kafka apache a 3-node
Apache Kafka cluster), and the service's processes under a supervisor that starts again whatever
exits: consumer, relay, Payment simulator, Celery worker and beat, and the fiscal emulator (the only
fake, over HTTP). Each fault is a phase: good RU and KZ requests go to BOB's topic at --rate per
second before, during and after the fault; then the phase waits until every one of them is
completed (an RU one with its receipt done). The faults: kill -9 of each process; PostgreSQL down
mid-run, and down while the consumer and relay start; Redis down; the broker frozen (SIGSTOP);
with --kafka apache one broker of three killed; a record too large on each path (a request whose
events could not fit, an outbox row the broker refuses, a malformed record whose dead letter is too
large). --short, for CI, runs the kills of consumer, relay and worker, PostgreSQL down mid-run, Redis
down, the broker frozen and the records too large, with 5 s outages.

It prints, fault by fault: good requests lost (sent, not completed within the phase), effects
doubled (a refund with more than one `refunded` transition, or more than one money_refunded event),
good requests dead-lettered, receipts registered twice (in our database, or by the emulator: two
external ids for one part of a refund, or one registered twice), and process exits nobody caused.
Every cell must be 0; the exit status is 1 otherwise, or when a poison record was not parked where
it belongs. The fiscal timings are shortened (FISCAL_LOST_TASK_SECONDS 3, sweep every 2 s,
FISCAL_REPORT_UNKNOWN_SECONDS 5) so that a task lost with a worker or with Redis, or a receipt lost
with the emulator's memory, comes back within seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.faults.service import Infrastructure, Supervisor
from bench.support import BROKER_KINDS

KILLED = ("consumer", "relay", "payment", "worker", "beat", "fiscal-emulator")
SHORT_KILLED = ("consumer", "relay", "worker")
COLUMNS = ("lost", "doubled", "dead-lettered", "receipts twice", "exits")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", choices=BROKER_KINDS, default="tansu", help="tansu, or a 3-node Apache Kafka")
    parser.add_argument("--short", action="store_true", help="CI: fewer faults, 5 s outages, fewer requests")
    parser.add_argument("--outage-seconds", type=float, help="length of each outage (default 20, short 5)")
    parser.add_argument("--rate", type=float, help="good requests per second (default 4, short 3)")
    parser.add_argument("--timeout", type=float, help="seconds a phase waits for its requests (default 120, short 60)")
    args = parser.parse_args(argv)
    args.outage_seconds = args.outage_seconds or (5.0 if args.short else 20.0)
    args.rate = args.rate or (3.0 if args.short else 4.0)
    args.timeout = args.timeout or (60.0 if args.short else 120.0)
    # Traffic before and after each fault: long enough to span a restart, short enough for CI.
    args.margin = 2.0 if args.short else 5.0
    return args


@dataclass
class Run:
    args: argparse.Namespace
    infra: Infrastructure
    supervisor: Supervisor
    traffic: Any  # bench.faults.flow.Traffic, imported once Django is set up
    emulator_snapshots: list[dict[str, Any]] = field(default_factory=list)
    # What each poison record must have become, checked at the end.
    expectations: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)

    def outage(self) -> None:
        time.sleep(self.args.outage_seconds)

    def emulator_stats(self) -> dict[str, Any] | None:
        import orjson

        from tests.support.processes import http_get

        status, body = http_get(f"http://127.0.0.1:{self.infra.emulator_port}/emulator/stats")
        return orjson.loads(body) if status == 200 else None


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Run], None]


def kill(name: str) -> Fault:
    def inject(run: Run) -> None:
        if name == "fiscal-emulator":
            # Its documents die with it: keep what it registered in this life.
            stats = run.emulator_stats()
            if stats:
                run.emulator_snapshots.append(stats)
        run.supervisor.kill(name)

    return Fault(f"kill -9 {name}", inject)


def postgres_down(run: Run) -> None:
    run.infra.postgres.stop()
    run.outage()
    run.infra.postgres.start()


def postgres_down_at_start(run: Run) -> None:
    run.infra.postgres.stop()
    for name in ("consumer", "relay"):
        run.supervisor.restart(name)
    run.outage()
    run.infra.postgres.start()


def redis_down(run: Run) -> None:
    run.infra.redis.stop()
    run.outage()
    run.infra.redis.start()


def broker_frozen(run: Run) -> None:
    pids = run.infra.broker_pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(frozen_seconds(run.args))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def frozen_seconds(args: argparse.Namespace) -> float:
    """At least a consumer session and then some: a broker that wakes up has expired its groups' members,
    and what they commit next is refused, as after a real rebalance."""
    from django.conf import settings

    return max(args.outage_seconds, settings.KAFKA_SESSION_TIMEOUT_MS / 1000 + 3)


def broker_killed(run: Run) -> None:
    """kill -9 of the node that leads the most partitions; it comes back on its data afterwards."""
    from confluent_kafka.admin import AdminClient

    from events.messaging.apache_kafka import ApacheKafkaCluster

    cluster = run.infra.broker
    assert isinstance(cluster, ApacheKafkaCluster)
    metadata = AdminClient({"bootstrap.servers": cluster.bootstrap_servers}).list_topics(timeout=10)
    leaders = Counter(p.leader for topic in metadata.topics.values() for p in topic.partitions.values())
    victim = leaders.most_common(1)[0][0]
    cluster.kill(victim)
    try:
        run.outage()
    finally:
        cluster.restart(victim)


def records_too_large(run: Run) -> None:
    from bench.faults import flow
    from events.contracts.envelope import build_message
    from events.messaging.models import OutboxMessage

    request = build_message(
        "bob.refund_requested",
        flow.too_large_request(run.traffic.rng),
        country="RU",
        producer="bob",
        version=flow.REQUEST_VERSION,
    )
    run.traffic.send(request, None)
    row = flow.park_too_large_outbox_row()
    poison = flow.malformed_record(run.traffic)
    eid = request["metadata"]["eid"]
    run.expectations += [
        ("in: a request whose events could exceed the limit is dead-lettered", lambda cells: eid in cells.letters),
        (
            "out: an outbox row too large for the broker is parked",
            lambda _cells: OutboxMessage.objects.filter(id=row, failed_at__isnull=False).exists(),
        ),
        (
            "dead letter: a letter too large is written shortened",
            lambda cells: cells.letters.get(poison, {}).get("dlq.truncated") == "true",
        ),
    ]


def faults(args: argparse.Namespace) -> list[Fault]:
    outage = f"{args.outage_seconds:.0f} s"
    chosen = [kill(name) for name in (SHORT_KILLED if args.short else KILLED)]
    chosen.append(Fault(f"PostgreSQL down {outage} mid-run", postgres_down))
    if not args.short:
        chosen.append(Fault(f"PostgreSQL down {outage} at consumer, relay start", postgres_down_at_start))
    chosen += [
        Fault(f"Redis down {outage}", redis_down),
        Fault(f"broker frozen {frozen_seconds(args):.0f} s (SIGSTOP)", broker_frozen),
    ]
    if args.kafka == "apache" and not args.short:
        chosen.append(Fault(f"one broker of three killed {outage}", broker_killed))
    chosen.append(Fault("records too large: in, out, dead letter", records_too_large))
    return [Fault("none (baseline)", lambda _run: None), *chosen]


@dataclass
class Row:
    fault: str
    sent: int
    seconds: float
    cells: dict[str, int]


def run_phase(run: Run, fault: Fault) -> Row:
    from bench.faults.flow import wait_until_completed

    started = time.monotonic()
    run.supervisor.phase = fault.name
    print(f"faults: {fault.name}", flush=True)
    with run.traffic.steady(fault.name, run.args.rate):
        time.sleep(run.args.margin)
        fault.inject(run)
        time.sleep(run.args.margin)
    goods = run.traffic.of(fault.name)
    done = wait_until_completed(goods, run.args.timeout)
    return Row(fault.name, len(goods), time.monotonic() - started, {"lost": len(goods) - len(done)})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    infra = Infrastructure(args.kafka)
    logs = Path(tempfile.mkdtemp(prefix="bench-faults-logs-"))
    supervisor: Supervisor | None = None
    run: Run | None = None
    status = 1
    try:
        infra.start()
        env = infra.env()
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("ensure_topics", "--partitions", "3", verbosity=0)
        supervisor = Supervisor(env, logs)
        supervisor.start(infra.children())
        from bench.faults.flow import Traffic

        run = Run(args, infra, supervisor, Traffic())
        ready = time.monotonic() - started
        rows = [run_phase(run, fault) for fault in faults(args)]
        status = report(run, rows, ready, time.monotonic() - started)
        return status
    except KeyboardInterrupt:
        print("faults: interrupted", file=sys.stderr)
        return 130
    finally:
        if run is not None:
            run.traffic.producer.close()  # before the broker goes: it would log every reconnection
        if supervisor is not None:
            supervisor.stop()
        infra.stop()
        if status == 0:
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"faults: the processes' logs are kept in {logs}", file=sys.stderr)


def report(run: Run, rows: list[Row], ready: float, total: float) -> int:
    from django.conf import settings

    from bench.faults.flow import count, wait_until_completed, where_stuck

    stats = run.emulator_stats()
    if stats:
        run.emulator_snapshots.append(stats)
    goods = run.traffic.delivered
    # Whatever is still owed gets a last chance before the tally, so a late one is told apart from a lost one.
    completed = wait_until_completed(goods, 1)
    stuck = where_stuck(
        [good for good in goods if good.refund_request_id not in completed],
        run.traffic.positions,
        settings.REFUNDTOOL_CONSUMER_GROUP,
    )
    cells = count(goods, run.emulator_snapshots)
    for row in rows:
        row.cells |= {
            "doubled": cells.doubled[row.fault],
            "dead-lettered": cells.dead_lettered[row.fault],
            "receipts twice": cells.receipts_twice[row.fault],
            "exits": run.supervisor.exits_in(row.fault),
        }
    width = max(len(row.fault) for row in rows)
    header = f"{'fault':<{width}}  {'sent':>5}  " + "  ".join(COLUMNS) + "  seconds"
    print()
    print(f"fault suite on {run.args.kafka}{' (short)' if run.args.short else ''}, {run.args.rate:g} requests/s")
    print(header)
    print("-" * len(header))
    for row in rows:
        values = "  ".join(f"{row.cells[c]:>{len(c)}}" for c in COLUMNS)
        print(f"{row.fault:<{width}}  {row.sent:>5}  {values}  {row.seconds:>7.0f}")
    failed = [c for row in rows for c in COLUMNS if row.cells[c]]
    problems = [what for what, check in run.expectations if not check(cells)]
    for what, _check in run.expectations:
        print(f"{'NOT ' if what in problems else ''}ok: {what}")
    for refusal in run.traffic.refused:
        print(f"the broker refused one of the run's own requests: {refusal}")
    if run.traffic.resent:
        print(f"the broker acknowledged {run.traffic.resent} of the run's own requests without an offset: sent again")
    if stuck:
        print("not completed after the last phase:")
        for line in stuck:
            print(f"  {line}")
    print(f"durations: start {ready:.0f} s, faults {total - ready:.0f} s, total {total:.0f} s")
    if failed or problems:
        print(f"FAILED: {len(failed)} cell(s) not 0, {len(problems)} poison record(s) not where they belong")
        return 1
    print("every cell is 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
