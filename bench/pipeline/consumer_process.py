"""One consumer process of the pipeline benchmark: `python -m bench.pipeline.consumer_process`.

Started by bench.pipeline with the broker and database in its environment. It assigns itself the
partitions it is given (no group join, which would be timed otherwise), says "ready", waits for
"go" on stdin, then runs events.messaging.consumer.EventConsumer batch by batch, as `manage.py consume` does,
until it has processed the number of messages it was told its partitions hold (the broker's high
watermark can read low, DESIGN §6), and prints that number.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", required=True, help="comma-separated partition numbers")
    parser.add_argument("--group", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True, help="messages in those partitions")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundtool.settings")
    import django

    django.setup()
    from confluent_kafka import TopicPartition
    from django.conf import settings
    from django.db import connection

    from events.messaging.consumer import EventConsumer
    from events.messaging.handlers import handled_event_types

    settings.DEBUG = False  # a deployment's setting: under DEBUG, Django keeps every query
    consumer = EventConsumer(
        group=args.group,
        event_types=handled_event_types(),
        countries=settings.REFUNDTOOL_COUNTRIES,
        batch_size=args.batch_size,
        retry_window_seconds=60,
        handler_attempts=3,
    )
    partitions = [int(p) for p in args.partitions.split(",")]
    consumer.consumer.assign([TopicPartition(args.topic, p, 0) for p in partitions])
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    stop = threading.Event()
    processed = 0
    while processed < args.expect:
        batch = consumer.consumer.consume(args.batch_size, 1.0)
        consumer.process(batch, stop)
        processed += sum(1 for message in batch if not message.error())
    consumer.consumer.close()
    print(processed, flush=True)
    sys.stdin.readline()  # the benchmark reads this process's CPU time before it goes


if __name__ == "__main__":
    main()
