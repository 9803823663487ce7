from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.consumer import EventConsumer
from events.messaging.handlers import handled_event_types
from events.messaging.process import retry_until_done, stop_on_signals
from events.messaging.topics import dlq_topic_for, topics_ensure


class Command(BaseCommand):
    help = "Consume BOB and Payment events into the refund domain until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--group",
            help="consumer group id (default: REFUNDTOOL_CONSUMER_GROUP, with the countries appended when"
            " --countries names only some of the served ones)",
        )
        parser.add_argument(
            "--countries",
            default=",".join(settings.REFUNDTOOL_COUNTRIES),
            help="comma-separated countries this consumer handles; others are skipped (default: REFUNDTOOL_COUNTRIES)",
        )
        parser.add_argument("--batch-size", type=int, default=settings.REFUNDTOOL_CONSUMER_BATCH_SIZE)

    def handle(self, *args: object, group: str | None, countries: str, batch_size: int, **options: object) -> None:
        wanted = {c.strip().upper() for c in countries.split(",") if c.strip()}
        unknown = wanted - set(settings.REFUNDTOOL_COUNTRIES)
        if not wanted or unknown:
            raise CommandError(
                f"--countries must name countries this deployment serves ({','.join(settings.REFUNDTOOL_COUNTRIES)});"
                f" unknown: {','.join(sorted(unknown)) or 'none given'}"
            )
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if group is None:
            group = consumer_group_for(wanted)
            if wanted != set(settings.REFUNDTOOL_COUNTRIES):
                # A group commits past every message it reads, also those of countries it skips: one
                # group per set of countries, so a deployment for the others still gets them.
                self.stderr.write(f"consuming as group {group}: a group of its own for {','.join(sorted(wanted))}")
        event_types = handled_event_types()
        consumer = EventConsumer(
            group=group,
            event_types=event_types,
            countries=wanted,
            batch_size=batch_size,
            retry_window_seconds=settings.REFUNDTOOL_CONSUMER_RETRY_WINDOW_SECONDS,
            handler_attempts=settings.REFUNDTOOL_CONSUMER_HANDLER_ATTEMPTS,
        )
        stop = stop_on_signals()
        topics = consumer.topics + [dlq_topic_for(t) for t in consumer.topics]
        # A broker that is down at start is waited for, like one that goes away later.
        if retry_until_done(
            lambda: topics_ensure(topics=topics), stop=stop, what="Kafka broker", errors=(KafkaException,)
        ):
            consumer.run(stop)
        else:
            consumer.close()


def consumer_group_for(countries: set[str]) -> str:
    """The default group of a consumer of `countries`: REFUNDTOOL_CONSUMER_GROUP, suffixed unless it takes all."""
    if countries == set(settings.REFUNDTOOL_COUNTRIES):
        return settings.REFUNDTOOL_CONSUMER_GROUP
    return f"{settings.REFUNDTOOL_CONSUMER_GROUP}-{'-'.join(sorted(countries)).lower()}"
