from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.contracts.specification import get_event_spec
from events.messaging.process import stop_on_signals
from events.messaging.topics import topics_ensure
from payments.simulator import COMMAND, RESULT, PaymentSimulator


class Command(BaseCommand):
    help = "Act as the Payment service: answer refund.item_ready_to_refund.v1 with payment.refund_processed.v1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fail-rate", type=float, default=0.05, help="share of refunds that fail (0..1)")
        parser.add_argument("--latency-ms", type=int, default=200, help="delay before each answer")
        parser.add_argument(
            "--answer-rate",
            type=float,
            default=1.0,
            help="share of refunds whose command gets an answer at all (0..1); 0 never answers",
        )
        parser.add_argument("--group", default="payment-simulator")

    def handle(
        self, *args: object, fail_rate: float, latency_ms: int, answer_rate: float, group: str, **o: object
    ) -> None:
        if not 0 <= fail_rate <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if not 0 <= answer_rate <= 1:
            raise CommandError("--answer-rate must be between 0 and 1")
        if latency_ms < 0:
            raise CommandError("--latency-ms must not be negative")
        topics_ensure(topics=[get_event_spec(COMMAND).topic, get_event_spec(RESULT).topic])
        simulator = PaymentSimulator(group=group, fail_rate=fail_rate, latency_ms=latency_ms, answer_rate=answer_rate)
        simulator.run(stop_on_signals())
