from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from events.messaging.process import stop_on_signals
from events.messaging.relay import OutboxRelay


class Command(BaseCommand):
    help = "Publish committed outbox rows to Kafka, in order per key, until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=settings.REFUNDTOOL_OUTBOX_BATCH_SIZE)

    def handle(self, *args: object, batch_size: int, **options: object) -> None:
        stop = stop_on_signals()
        OutboxRelay(
            batch_size=batch_size,
            poll_interval=settings.REFUNDTOOL_OUTBOX_POLL_INTERVAL_MS / 1000,
            retention=timedelta(hours=settings.REFUNDTOOL_OUTBOX_RETENTION_HOURS),
        ).run(stop)
