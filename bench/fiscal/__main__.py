"""Fiscal benchmark: refunded -> receipt done through the real worker, against the emulator's own floor.

    python -m bench.fiscal [--refunds 1000] [--rate 50] [--latency-ms 200] [--error-rate 0.05]

It creates a scratch PostgreSQL database (dropped at the end), flushes the Redis database given by
--redis-url, starts the emulator (`manage.py fiscal_emulator`) and a Celery worker (`celery -A
refundtool worker`, threads pool) as OS processes with the service's default fiscal settings, and
creates the refunds through the domain's services (ready_to_refund, untimed). The timed phase moves
them to refunded at --rate per second, as Payment's results would; from there only the worker acts.

The floor is the emulator's own latency, measured in the same run: one receipt at a time through the
provider client with back-to-back report requests (a sell_refund answer, then a report that answers
done), 5xx answers retried at once. The goal: p99 of refunded -> done no more than the floor + 2 s,
and no receipt past its deadline.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.support import percentile, wait_for
from events.messaging.embedded_broker import free_port

ROOT = Path(__file__).resolve().parents[2]

GOAL_OVER_FLOOR_SECONDS = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fiscal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--refunds", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="refunds made refunded per second")
    parser.add_argument("--latency-ms", type=int, default=200, help="emulator latency of every answer")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of emulator answers that are 500")
    parser.add_argument("--done-after-ms", type=int, default=500, help="time a document stays in wait")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (celery -A refundtool worker)")
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker process")
    parser.add_argument("--floor-samples", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last receipt")
    parser.add_argument(
        "--database-server", default=os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    database = f"refundtool_bench_fiscal_{uuid.uuid4().hex[:8]}"
    emulator_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "refundtool.settings",
        "DJANGO_DEBUG": "1",  # the emulator's credentials over http
        "DATABASE_URL": f"{args.database_server}/{database}",
        "REDIS_URL": args.redis_url,
        "FISCAL_PROVIDER_URL": f"http://127.0.0.1:{emulator_port}/possystem/v5",
        "REFUNDTOOL_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import psycopg
    import redis

    admin = psycopg.connect(f"{args.database_server}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    redis.Redis.from_url(args.redis_url).flushdb()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        run(args, env, emulator_port, processes)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        redis.Redis.from_url(args.redis_url).flushdb()


def run(args: argparse.Namespace, env: dict[str, str], emulator_port: int, processes: list) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    processes.append(
        subprocess.Popen(
            [
                *(sys.executable, str(ROOT / "manage.py"), "fiscal_emulator", "--port", str(emulator_port)),
                *("--latency-ms", str(args.latency_ms), "--error-rate", str(args.error_rate)),
                *("--done-after-ms", str(args.done_after_ms)),
            ],
            env=env,
            start_new_session=True,
        )
    )
    emulator_root = f"http://127.0.0.1:{emulator_port}"
    wait_for(lambda: emulator_stats(emulator_root), 30, "the emulator")
    for number in range(args.workers):
        processes.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "refundtool", "worker", "--pool", "threads"),
                    *("--concurrency", str(args.concurrency), "--queues", "fiscal,default", "--loglevel", "WARNING"),
                    *("--without-gossip", "--without-mingle", "--hostname", f"bench-fiscal-{number}@%h"),
                ],
                env=env,
                cwd=ROOT,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from refundtool.celery import app

    wait_for(lambda: len(app.control.ping(timeout=0.5)) >= args.workers, 60, "the workers")

    floor_samples = measure_floor(args.floor_samples)
    floor = statistics.median(floor_samples)
    print(
        f"floor: emulator alone, {len(floor_samples)} receipts one at a time: median {floor:.3f}s "
        f"(min {min(floor_samples):.3f}s, max {max(floor_samples):.3f}s); "
        f"configured latency {args.latency_ms} ms per answer + {args.done_after_ms} ms in wait"
    )
    before = emulator_stats(emulator_root)

    refunds = prepare_refunds(args.refunds)
    started = time.monotonic()
    make_refunded(refunds, rate=args.rate)
    offered = time.monotonic() - started
    print(f"offered: {len(refunds)} refunds made refunded in {offered:.1f}s ({len(refunds) / offered:.1f}/s)")

    from fiscalization.models import Receipt, ReceiptStatus

    ids = [refund.id for refund in refunds]
    final = (ReceiptStatus.DONE, ReceiptStatus.FAIL)
    wait_for(
        lambda: (
            not Receipt.objects.filter(refund_id__in=ids).exclude(status__in=final).exists()
            and Receipt.objects.filter(refund_id__in=ids).count() >= len(ids)
        ),
        args.timeout,
        "every receipt to be final",
    )
    report(args, ids, floor, before, emulator_stats(emulator_root))
    print_cpu(processes, len(ids))


def print_cpu(processes: list, refunds: int) -> None:
    """CPU seconds per process (children included): on a shared machine this says who was the bottleneck."""
    import psutil

    parts = []
    for name, process in zip(("emulator", "workers"), (processes[0], processes[1:]), strict=True):
        total = 0.0
        for popen in process if isinstance(process, list) else [process]:
            proc = psutil.Process(popen.pid)
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        parts.append(f"{name} {total:.1f}s ({total / refunds * 1000:.1f} ms/refund)")
    me = psutil.Process().cpu_times()
    parts.append(f"bench (producer, floor) {me.user + me.system:.1f}s")
    print(f"cpu: {', '.join(parts)}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")


def emulator_stats(root: str) -> dict[str, Any] | None:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{root}/emulator/stats", timeout=5) as response:  # noqa: S310 - our emulator
            return json.loads(response.read())
    except OSError:
        return None


def measure_floor(samples: int) -> list[float]:
    from datetime import UTC, datetime

    from fiscalization.builder import Company, ReceiptSource, SourceItem, sell_refund_bodies
    from fiscalization.provider import AtolClient, ProviderUnavailable

    client = AtolClient.from_settings()
    source = ReceiptSource(
        currency="RUB",
        amount=Decimal("300.00"),
        items=(SourceItem(name="Товар", unit_price=Decimal("100.00"), quantity=3, vat_rate="22"),),
        delivery_amount=Decimal(0),
        delivery_vat_rate="22",
        payment_method="card",
        email="bench@example.com",
        phone=None,
    )

    def until_answered(call: Callable[[], Any]) -> Any:
        while True:
            try:
                return call()
            except ProviderUnavailable:
                continue

    until_answered(lambda: client._token())  # the token is cached for the run, as for the worker
    durations = []
    for _ in range(samples):
        (body,) = sell_refund_bodies(
            source, company=Company.from_settings(), external_id_prefix=f"floor-{uuid.uuid4()}", at=datetime.now(UTC)
        )
        started = time.monotonic()
        registration = until_answered(lambda body=body: client.sell_refund(body))
        while until_answered(lambda uuid=registration.uuid: client.report(uuid)).status == "wait":
            pass
        durations.append(time.monotonic() - started)
    return durations


def prepare_refunds(count: int) -> list:
    from django.utils import timezone

    from refundtool.services import Actor, refund_request

    refunds = []
    for n in range(count):
        data = {
            "refund_request_id": str(uuid.uuid4()),
            "order_number": f"BENCH-{n}-{uuid.uuid4().hex[:6]}",
            "country": "RU",
            "currency": "RUB",
            "customer": {"email": f"buyer{n}@example.com"},
            "payment": {"payment_id": f"pay-{n}", "method": "card"},
            "items": [
                {
                    "item_id": "1",
                    "sku": "SKU-1",
                    "name": "Чайник",
                    "quantity": 1,
                    "unit_price": "1499.00",
                    "vat_rate": "22",
                    "reason": "брак",
                },
                {
                    "item_id": "2",
                    "sku": "SKU-2",
                    "name": "Куртка",
                    "quantity": 2,
                    "unit_price": "5999.00",
                    "vat_rate": "20",
                    "reason": "не подошла",
                },
            ],
            "delivery_amount": "300.00",
            "amount": "13797.00",
            "requested_at": timezone.now().isoformat(),
        }
        refunds.append(refund_request(data=data, actor=Actor.event(eid=uuid.uuid4(), producer="bench")))
    return refunds


def make_refunded(refunds: list, *, rate: float, producers: int = 4) -> None:
    """Payment's successes at `rate` per second on schedule, from a few threads (as consumers would)."""
    import threading

    from django.db import connection
    from django.utils import timezone

    from refundtool.services import Actor, refund_apply_payment_result

    started = time.monotonic()

    def produce(first: int) -> None:
        for n in range(first, len(refunds), producers):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            refund = refunds[n]
            refund_apply_payment_result(
                refund_id=refund.id,
                succeeded=True,
                amount=refund.amount,
                currency=refund.currency,
                processed_at=timezone.now(),
                payment_transaction_id=f"tx-{refund.id}",
                actor=Actor.event(eid=uuid.uuid4(), producer="bench"),
            )
        connection.close()

    threads = [threading.Thread(target=produce, args=(first,)) for first in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def report(args: argparse.Namespace, ids: list, floor: float, before: dict, after: dict) -> None:
    from django.db.models import F, Max

    from fiscalization.models import Receipt, ReceiptStatus
    from refundtool.models import Refund

    refunded_at = dict(Refund.objects.filter(id__in=ids).values_list("id", "refunded_at"))
    done_at = dict(
        Receipt.objects.filter(refund_id__in=ids, status=ReceiptStatus.DONE)
        .values("refund_id")
        .annotate(last=Max("done_at"))
        .values_list("refund_id", "last")
    )
    latencies = [(done_at[i] - refunded_at[i]).total_seconds() for i in ids if i in done_at]
    stages = Receipt.objects.filter(refund_id__in=ids, status=ReceiptStatus.DONE).values_list(
        "refunded_at", "created_at", "registered_at", "done_at"
    )
    for name, start, end in (
        ("refunded -> receipt row", 0, 1),
        ("row -> registered", 1, 2),
        ("registered -> done", 2, 3),
    ):
        spans = [(row[end] - row[start]).total_seconds() for row in stages]
        print(f"  stage {name}: p50 {percentile(spans, 0.5):.3f}s  p99 {percentile(spans, 0.99):.3f}s")
    late = (
        Receipt.objects.filter(refund_id__in=ids, status=ReceiptStatus.DONE).filter(done_at__gt=F("deadline")).count()
    )
    flagged = Receipt.objects.filter(refund_id__in=ids, breached_at__isnull=False).count()
    failed = Receipt.objects.filter(refund_id__in=ids, status=ReceiptStatus.FAIL).count()
    registrations = after["external_ids"]
    ours = [e for e in registrations if not e.startswith("floor-")]
    p50, p99, worst = percentile(latencies, 0.50), percentile(latencies, 0.99), max(latencies)
    requests = {k: after["requests"].get(k, 0) - before["requests"].get(k, 0) for k in after["requests"]}
    print(
        f"emulator: latency {args.latency_ms} ms, error rate {args.error_rate:.0%}, "
        f"done after {args.done_after_ms} ms; "
        f"{after['injected_errors'] - before['injected_errors']} injected 5xx "
        f"({after['lost_responses'] - before['lost_responses']} after registering), requests {requests}"
    )
    print(
        f"receipts: {len(latencies)} of {len(ids)} refunds done, {failed} failed receipts; "
        f"{len(ours)} external ids, registrations per external id: max "
        f"{max(registrations[e]['registrations'] for e in ours)}"
    )
    print(f"refunded -> done: p50 {p50:.3f}s  p99 {p99:.3f}s  max {worst:.3f}s")
    print(f"vs floor {floor:.3f}s: p50 {p50 / floor:.2f}x, p99 {p99 / floor:.2f}x (p99 - floor = {p99 - floor:.3f}s)")
    print(
        f"SLA breaches: {late} done after the deadline, {flagged} flagged by the sweep "
        f"(deadline refunded_at + FISCAL_SLA_SECONDS)"
    )
    met = p99 <= floor + GOAL_OVER_FLOOR_SECONDS and late == 0 and flagged == 0 and len(latencies) == len(ids)
    print(
        f"goal (p99 <= floor + {GOAL_OVER_FLOOR_SECONDS:.0f}s, zero breaches, all done): {'MET' if met else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
