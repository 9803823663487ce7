"""A stand-in for the Payment service, for local runs, tests and benchmarks.

It answers refund.item_ready_to_refund commands (the latest version, which every refund is commanded
in) with a payment.refund_processed event of the latest version, each tender with the refund's
outcome, after a latency and with a failure rate of your choice. It is at-least-once like the real thing: a restart
may answer a command twice, which Refund Tool must take calmly. With an answer rate below 1 it
leaves that share of refunds unanswered (read, committed, never answered), as a Payment service
that loses commands would: what the unanswered-command monitoring is there to catch.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from events.contracts.envelope import MalformedMessage, build_message, decode_message, kafka_record
from events.contracts.specification import get_event_spec
from events.contracts.validation import validate_message
from events.messaging.kafka import consumer_config, producer_config

logger = logging.getLogger(__name__)
COMMAND = "refund.item_ready_to_refund"
RESULT = "payment.refund_processed"


def payment_result_data(command: dict[str, Any], *, succeeded: bool) -> dict[str, Any]:
    """The answer to one command; a repeated command gets the same transaction id, as from a real PSP."""
    data = command["data"]
    result = {
        "refund_id": data["refund_id"],
        "order_number": data["order_number"],
        "status": "succeeded" if succeeded else "failed",
        "amount": data["amount"],
        "currency": data["currency"],
        "processed_at": datetime.now(UTC).isoformat(),
    }
    refund_id = data["refund_id"]
    tenders = [{"method": t["method"], "amount": t["amount"], "status": result["status"]} for t in data["tenders"]]
    if succeeded:
        result["payment_transaction_id"] = _transaction_id(refund_id)
        for tender in tenders:
            tender["payment_transaction_id"] = _transaction_id(f"{refund_id}:{tender['method']}")
    else:
        result["failure_reason"] = tenders[0]["failure_reason"] = "card issuer declined the refund (simulated)"
    result["tenders"] = tenders
    return result


def _transaction_id(name: str) -> str:
    return "txn-" + uuid.uuid5(uuid.NAMESPACE_OID, name).hex[:16]


class PaymentSimulator:
    def __init__(self, *, group: str, fail_rate: float, latency_ms: int, answer_rate: float = 1.0) -> None:
        self.fail_rate = fail_rate
        self.answer_rate = answer_rate
        self.latency = latency_ms / 1000
        self.consumer = Consumer(consumer_config(group))
        self.producer = Producer(producer_config())
        self.answered = 0
        self._due: list[tuple[float, int, Message]] = []
        self._sequence = 0

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe([get_event_spec(COMMAND).topic])
        try:
            while not stop.is_set():
                wait = 0.5 if not self._due else max(0.0, min(0.5, self._due[0][0] - time.monotonic()))
                for message in self.consumer.consume(num_messages=500, timeout=wait):
                    if message.error():
                        continue
                    self._sequence += 1
                    heapq.heappush(self._due, (time.monotonic() + self.latency, self._sequence, message))
                self._answer_due()
        finally:
            self.producer.flush(10)
            self.consumer.close()

    def _answer_due(self) -> None:
        now = time.monotonic()
        handled: list[Message] = []
        answers = 0
        while self._due and self._due[0][0] <= now:
            message = heapq.heappop(self._due)[2]
            answers += self._answer(message)
            handled.append(message)
        if not handled:
            return
        if self.producer.flush(30):
            logger.warning("the broker did not acknowledge every answer; they will be sent again")
            return
        last: dict[tuple[str, int], int] = {}
        for message in handled:
            last[(message.topic(), message.partition())] = message.offset()
        # Commits only what was handled; a command still waiting out its latency is not committed.
        pending = {(m.topic(), m.partition()) for _, _, m in self._due}
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items() if (t, p) not in pending]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                # The group moved on (a broker that froze past the session, a rebalance): whoever owns the
                # partitions now gets these commands again and answers them alike, so this is no reason to die.
                logger.warning("could not commit the answered commands (%s); they will be answered again", exc)
        self.answered += answers

    def _answer(self, message: Message) -> bool:
        """Produces the answer to one command; False when it is left unanswered or cannot be read."""
        try:
            command = decode_message(message.value())
        except MalformedMessage as exc:
            logger.warning("ignoring an unreadable command at offset %s: %s", message.offset(), exc)
            return False
        if validate_message(COMMAND, command):
            logger.warning("ignoring an invalid command at offset %s", message.offset())
            return False
        # The outcome is a function of the refund, so a command delivered twice is answered alike.
        refund_id = command["data"]["refund_id"]
        if random.Random(f"{refund_id}:answer").random() >= self.answer_rate:
            logger.info("leaving the command for refund %s unanswered (answer rate %s)", refund_id, self.answer_rate)
            return False
        succeeded = random.Random(refund_id).random() >= self.fail_rate
        answer = build_message(
            RESULT,
            payment_result_data(command, succeeded=succeeded),
            country=command["metadata"]["country"],
            causation_id=command["metadata"]["eid"],
            flow_id=command["metadata"].get("flow_id"),
            producer="payment",
        )
        record = kafka_record(answer)
        while True:
            try:
                self.producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
                return True
            except BufferError:
                self.producer.poll(0.1)
