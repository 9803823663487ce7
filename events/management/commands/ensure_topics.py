from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.topics import specified_topics, topics_ensure


class Command(BaseCommand):
    help = "Create every topic of the event specification and its dead-letter topic, where missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partitions", type=int, help="partitions of new topics (default KAFKA_TOPIC_PARTITIONS)")

    def handle(self, *args: object, partitions: int | None, **options: object) -> None:
        if partitions is not None and partitions < 1:
            raise CommandError("--partitions must be at least 1")
        try:
            created = topics_ensure(partitions=partitions)
        except KafkaException as exc:
            raise CommandError(f"could not create topics: {exc}") from exc
        for topic in created:
            self.stdout.write(f"created {topic}")
        self.stdout.write(f"{len(specified_topics())} topics present, {len(created)} created")
