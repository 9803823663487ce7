import random
import time

from confluent_kafka import KafkaException, Producer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config
from events.messaging.process import stop_on_signals
from refundtool.simulation import REQUEST_VERSION, fake_refund_request


class Command(BaseCommand):
    help = "Act as BOB: publish realistic bob.refund_requested.v1 events to Kafka."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--refunds", type=int, required=True, help="how many refund requests to publish")
        parser.add_argument("--countries", default=",".join(settings.REFUNDTOOL_COUNTRIES))
        parser.add_argument("--rate", type=float, default=0, help="requests per second; 0 = as fast as possible")
        parser.add_argument("--seed", type=int, help="random seed, for a repeatable stream")

    def handle(
        self, *args: object, refunds: int, countries: str, rate: float, seed: int | None, **opts: object
    ) -> None:
        wanted = [c.strip().upper() for c in countries.split(",") if c.strip()]
        unknown = sorted(set(wanted) - {"RU", "KZ", "BY", "UA"})
        if refunds < 0 or rate < 0:
            raise CommandError("--refunds and --rate must not be negative")
        if not wanted or unknown:
            raise CommandError(f"--countries takes RU, KZ, BY, UA; unknown: {','.join(unknown) or 'none given'}")
        stop = stop_on_signals()
        rng = random.Random(seed)
        producer = Producer(producer_config())
        started = time.monotonic()
        sent = 0
        for sent in range(1, refunds + 1):
            if stop.is_set():
                break
            country = rng.choice(wanted)
            data = fake_refund_request(rng, country=country)
            message = build_message(
                "bob.refund_requested", data, country=country, producer="bob", version=REQUEST_VERSION
            )
            record = kafka_record(message)
            self._produce(producer, record)
            if rate:
                stop.wait(max(0.0, started + sent / rate - time.monotonic()))
        if producer.flush(30):
            raise CommandError("the broker did not acknowledge every request")
        self.stdout.write(f"published {sent} refund request(s) in {time.monotonic() - started:.1f}s")

    @staticmethod
    def _produce(producer: Producer, record: object) -> None:
        while True:
            try:
                producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
                producer.poll(0)
                return
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                raise CommandError(f"could not publish: {exc}") from exc
