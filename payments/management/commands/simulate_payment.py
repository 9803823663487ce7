from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.process import stop_on_signals
from events.specification import get_event_spec
from events.topics import topics_ensure
from payments.simulator import COMMAND, RESULT, PaymentSimulator


class Command(BaseCommand):
    help = "Act as the Payment service: answer refund.item_ready_to_refund.v1 with payment.refund_processed.v1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fail-rate", type=float, default=0.05, help="share of refunds that fail (0..1)")
        parser.add_argument("--latency-ms", type=int, default=200, help="delay before each answer")
        parser.add_argument("--group", default="payment-simulator")

    def handle(self, *args: object, fail_rate: float, latency_ms: int, group: str, **o: object) -> None:
        if not 0 <= fail_rate <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if latency_ms < 0:
            raise CommandError("--latency-ms must not be negative")
        topics_ensure(topics=[get_event_spec(COMMAND).topic, get_event_spec(RESULT).topic])
        PaymentSimulator(group=group, fail_rate=fail_rate, latency_ms=latency_ms).run(stop_on_signals())
