"""Samples consumer lag: one pass with --once, else a pass every LAG_SAMPLE_INTERVAL_SECONDS until
SIGINT or SIGTERM (for deployments without Celery beat, which otherwise runs the passes)."""

from __future__ import annotations

import signal
import threading

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.monitoring.services import LagSampleResult, lag_sample


class Command(BaseCommand):
    help = "Sample consumer group offsets and high watermarks, and print each group's Burrow status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run one pass and exit")
        parser.add_argument("--timeout", type=float, default=10.0, help="Kafka request timeout, seconds")

    def handle(self, *args: object, once: bool, timeout: float, **options: object) -> None:
        if timeout <= 0:
            raise CommandError(f"--timeout must be positive, not {timeout}")
        if once:
            try:
                self._report(lag_sample(timeout_seconds=timeout))
            except KafkaException as exc:
                raise CommandError(f"cannot read the cluster at {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            try:
                self._report(lag_sample(timeout_seconds=timeout))
            except KafkaException as exc:
                # The next pass is the retry; a broker outage must not end the sampler.
                self.stderr.write(f"lag sampling pass failed: {exc}")
            stop.wait(settings.LAG_SAMPLE_INTERVAL_SECONDS)

    def _report(self, result: LagSampleResult | None) -> None:
        if result is None:
            self.stdout.write("another sampling pass is running; skipped")
            return
        for status in result.statuses:
            lagging = ", ".join(f"{p.topic}[{p.partition}]={p.status}" for p in status.partitions if p.status != "OK")
            self.stdout.write(
                f"{status.group}: {status.status} totallag={status.totallag} complete={status.complete:.2f}"
                + (f" ({lagging})" if lagging else "")
            )
        self.stdout.flush()
