"""Pipeline benchmark: consumer and relay throughput against raw confluent-kafka in the same run.

    python -m bench.pipeline [--events 20000] [--batch-size 500] [--latency-seconds 5] [--kafka apache]

It starts a broker (tansu, or with --kafka apache a one-node Apache Kafka cluster) and a scratch
PostgreSQL database (dropped at the end) and measures:
1. raw consume + parse of N refund requests (the consumer's ceiling) and raw idempotent produce of
   the same bytes (the relay's ceiling);
2. the consumer end to end: request -> validation -> inbox -> refund, items, audit rows and outbox
   rows in PostgreSQL -> offset commit, through `events.messaging.consumer.EventConsumer` as `consume` runs it;
3. the relay draining the outbox rows step 2 wrote;
4. commit-to-publish latency with the relay waiting on LISTEN/NOTIFY while refunds are created at a
   steady rate.
The goal of issue 6 is 10,000 refund events/s through the consumer on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from datetime import timedelta

from bench.support import BROKER_KINDS

GOAL_EVENTS_PER_SECOND = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="refund requests to push through")
    parser.add_argument("--batch-size", type=int, default=500, help="consumer batch per poll")
    parser.add_argument("--relay-batch-size", type=int, default=None, help="rows the relay claims at once")
    parser.add_argument(
        "--consumers",
        default="1,2",
        help="consumer process counts to measure, each on a fresh database state (default 1,2: one per core)",
    )
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="length of the latency phase")
    parser.add_argument("--latency-rate", type=float, default=100.0, help="refunds per second in that phase")
    parser.add_argument("--kafka", choices=BROKER_KINDS, default="tansu", help="the broker: tansu or apache (1 node)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.update(DJANGO_SETTINGS_MODULE="refundtool.settings", DJANGO_DEBUG="1", REFUNDTOOL_LOG_LEVEL="WARNING")
    from bench.support import DEFAULT_DATABASE_SERVER, local_broker, scratch_database

    with local_broker(args.kafka) as (bootstrap_servers, broker_pids):
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
        print(f"broker: {args.kafka} at {bootstrap_servers}")
        with scratch_database(DEFAULT_DATABASE_SERVER, "refundtool_bench_pipeline") as database_url:
            os.environ["DATABASE_URL"] = database_url
            import django

            django.setup()
            from django.conf import settings

            # Measure what a deployment runs: under DEBUG, Django also keeps and formats every query.
            settings.DEBUG = False
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            call_command("ensure_topics", "--partitions", "6", verbosity=0)
            run(args, broker_pids=broker_pids)


def run(args: argparse.Namespace, *, broker_pids: list[int]) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    from bench.support import percentile
    from events.contracts.envelope import build_message, kafka_record
    from events.messaging.kafka import client_config, producer_config
    from refundtool.simulation import REQUEST_VERSION, fake_refund_request

    rng = random.Random(11)
    countries = ["RU", "KZ", "BY", "UA"]
    records = []
    for index in range(args.events):
        country = countries[index % 4]
        message = build_message(
            "bob.refund_requested",
            fake_refund_request(rng, country=country),
            country=country,
            producer="bob",
            version=REQUEST_VERSION,
        )
        records.append(kafka_record(message))
    size = sum(len(r.value) for r in records) / len(records)
    print(f"{args.events} refund requests, {size:.0f} bytes on average")

    from events.messaging.topics import topics_ensure

    topics_ensure(topics=["bench-raw"], partitions=6)
    producer = Producer(producer_config())
    _warm_up(producer, records[0])
    started = time.perf_counter()
    for record in records:
        _produce(producer, "bench-raw", record)
    producer.flush(60)
    raw_produce = args.events / (time.perf_counter() - started)
    per_partition: dict[int, int] = {}

    def delivered(error: object, message: object) -> None:
        if error is None:
            per_partition[message.partition()] = per_partition.get(message.partition(), 0) + 1

    for record in records:
        _produce(producer, record.topic, record, on_delivery=delivered)
    producer.flush(60)

    raw_consume = _raw_consume_rate(Consumer, TopicPartition, client_config, "bench-raw", args.events)
    counts = [int(count) for count in args.consumers.split(",")]
    consumer_rates = []
    for index, processes in enumerate(counts):
        if index:
            _forget_consumed_requests()
        consumer_rates.append((processes, *_consumer_rate(args, processes, per_partition, broker_pids)))
    relay_rate, rows = _relay_rate(args.relay_batch_size)
    p50, p99 = _publish_latency(args, percentile)

    print()
    print(f"raw consume + parse            {raw_consume:>10,.0f} msg/s")
    for processes, rate, cpu in consumer_rates:
        print(
            f"consumer end to end, {processes} proc.  {rate:>10,.0f} events/s   ratio {rate / raw_consume:.3f}"
            f"   goal {GOAL_EVENTS_PER_SECOND:,}/s: {'met' if rate >= GOAL_EVENTS_PER_SECOND else 'NOT met'}"
        )
        print(
            f"  CPU per event: consumer {cpu['consumer']:.0f} us, PostgreSQL {cpu['postgres']:.0f} us, broker "
            f"{cpu['broker']:.0f} us; total {sum(cpu.values()):.0f} us (the goal allows {_goal_budget_us():.0f})"
        )
    print(f"raw idempotent produce         {raw_produce:>10,.0f} msg/s")
    print(f"relay ({rows} outbox rows)   {relay_rate:>10,.0f} events/s   ratio {relay_rate / raw_produce:.3f}")
    print(f"commit-to-publish latency      p50 {p50 * 1000:.1f} ms   p99 {p99 * 1000:.1f} ms")


def _produce(producer: object, topic: str, record: object, on_delivery: object = None) -> None:
    while True:
        try:
            producer.produce(topic, key=record.key, value=record.value, headers=record.headers, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


def _warm_up(producer: object, record: object) -> None:
    """Connects a producer and gets its idempotent producer id, so that no rate counts that second."""
    producer.produce("bench-raw", value=record.value if record is not None else b"{}")
    producer.flush(30)


def _raw_consume_rate(consumer_class, topic_partition, client_config, topic: str, expected: int) -> float:
    import orjson

    consumer = consumer_class(client_config(**{"group.id": "bench-raw", "enable.auto.commit": False}))
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([topic_partition(topic, p, 0) for p in metadata.topics[topic].partitions])
    seen = 0
    started = time.perf_counter()
    while seen < expected:
        for message in consumer.consume(1000, 1.0):
            if not message.error():
                orjson.loads(message.value())
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return expected / elapsed


def _consumer_rate(
    args: argparse.Namespace, processes: int, per_partition: dict[int, int], broker_pids: list[int]
) -> tuple[float, dict[str, float]]:
    """Refund requests per second through `processes` consumer processes, each on its share of the
    partitions, and the CPU time per event (us) of the consumers, PostgreSQL and the broker meanwhile."""
    import subprocess
    import sys

    from bench.support import cpu_seconds, postgres_server_pids
    from refundtool.models import Refund

    topic = "bob.refund_requested.v1"
    shares = [sorted(per_partition)[index::processes] for index in range(processes)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pipeline.consumer_process",
                f"--topic={topic}",
                f"--partitions={','.join(map(str, share))}",
                f"--group=bench-refundtool-{processes}",
                f"--batch-size={args.batch_size}",
                f"--expect={sum(per_partition[p] for p in share)}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise SystemExit("bench: a consumer process did not start")
    pids = {"consumer": [worker.pid for worker in workers], "postgres": postgres_server_pids(), "broker": broker_pids}
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    processed = sum(int(worker.stdout.readline()) for worker in workers)
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(pids)
    for worker in workers:  # they wait for this, so that their CPU time could be read
        worker.stdin.write("exit\n")
        worker.stdin.flush()
    for worker in workers:
        worker.wait(30)
    created = Refund.objects.count()
    if processed != args.events or created != args.events:
        raise SystemExit(f"bench: {processes} consumer(s) processed {processed} and created {created} of {args.events}")
    cpu = {name: (cpu_after[name] - cpu_before[name]) / args.events * 1e6 for name in pids}
    return args.events / elapsed, cpu


def _goal_budget_us() -> float:
    """The CPU time per event that the goal leaves for everything on this machine's cores."""
    return (os.cpu_count() or 1) / GOAL_EVENTS_PER_SECOND * 1e6


def _forget_consumed_requests() -> None:
    """Empties what the consumer wrote, so the next measurement creates every refund again."""
    from django.db import connection

    from events.messaging.models import InboxMessage, OutboxMessage
    from events.monitoring.models import ResponseExpectation
    from refundtool.models import Refund, RefundItem, RefundTransition

    tables = [
        m._meta.db_table
        for m in (RefundTransition, RefundItem, Refund, InboxMessage, OutboxMessage, ResponseExpectation)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def _relay_rate(batch_size: int | None) -> tuple[float, int]:
    from django.conf import settings

    from events.messaging.models import OutboxMessage
    from events.messaging.relay import OutboxRelay

    relay = OutboxRelay(
        batch_size=batch_size or settings.REFUNDTOOL_OUTBOX_BATCH_SIZE, poll_interval=0.1, retention=timedelta(days=1)
    )
    rows = OutboxMessage.objects.filter(published_at__isnull=True).count()
    _warm_up(relay.producer, None)
    started = time.perf_counter()
    published = 0
    while published < rows:
        outcome = relay.relay_batch()
        if outcome.failed or outcome.parked:
            raise SystemExit(f"bench: the relay failed to publish {outcome.failed + outcome.parked} rows")
        published += outcome.published
    return rows / (time.perf_counter() - started), rows


def _publish_latency(args: argparse.Namespace, percentile) -> tuple[float, float]:
    from django.db import connection

    from events.messaging.models import OutboxMessage
    from events.messaging.relay import OutboxRelay
    from refundtool.services import Actor, refund_request
    from refundtool.simulation import fake_refund_request

    stop = threading.Event()
    relay = OutboxRelay(batch_size=500, poll_interval=0.1, retention=timedelta(days=1))
    thread = threading.Thread(target=lambda: (relay.run(stop), connection.close()))
    thread.start()
    rng = random.Random(5)
    # One refund first, so the relay's new producer has connected and got its producer id.
    refund_request(data=fake_refund_request(rng, country="KZ"), actor=Actor.user("bench"))
    unpublished = OutboxMessage.objects.filter(published_at__isnull=True)
    deadline = time.monotonic() + 30
    while unpublished.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    first_id = OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
    count = int(args.latency_seconds * args.latency_rate)
    started = time.monotonic()
    for index in range(count):
        refund_request(data=fake_refund_request(rng, country="KZ"), actor=Actor.user("bench"))
        time.sleep(max(0.0, started + (index + 1) / args.latency_rate - time.monotonic()))
    deadline = time.monotonic() + 30
    pending = OutboxMessage.objects.filter(id__gt=first_id, published_at__isnull=True)
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    latencies = [
        (published - created).total_seconds()
        for created, published in OutboxMessage.objects.filter(id__gt=first_id).values_list(
            "created_at", "published_at"
        )
    ]
    return percentile(latencies, 0.5), percentile(latencies, 0.99)


if __name__ == "__main__":
    main()
