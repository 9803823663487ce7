"""The consumer runtime: batches per poll, an idempotent inbox, dead letters, and no lost offsets.

For each polled batch, in partition order:
- a message that cannot be parsed or validated goes to `<topic>.dlq`;
- a message for a country this deployment does not serve is skipped;
- any other message is recorded in the inbox and handled in one savepoint of the batch's
  transaction, which also answers the command it responds to (events.expectations); a
  redelivered eid is a no-op;
- a handler's RejectMessage dead-letters the message; RetryMessageLater and unexpected errors
  pause its partition and try again later, until the retry window or the attempts run out.
Offsets are committed only after the batch's transaction commits and its dead letters are
acknowledged. A database outage rewinds the batch and waits: it is never the message's fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from uuid import UUID

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction

from events.dead_letters import DeadLetterPublisher, DeadLetterPublishError
from events.envelope import MalformedMessage, decode_message
from events.exceptions import RejectMessage, RetryMessageLater
from events.expectations import expectations_answer
from events.handlers import IncomingEvent, handler_for
from events.kafka import consumer_config
from events.metrics import CONSUMER_BATCH_SECONDS, CONSUMER_MESSAGE_SECONDS, EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from events.models import InboxMessage
from events.specification import EventSpec, get_event_spec
from events.validation import validate_message

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
OUTAGE_MAX_BACKOFF_SECONDS = 10.0

PartitionKey = tuple[str, int]


@dataclass
class _Item:
    message: Message
    spec: EventSpec
    event: IncomingEvent | None = None
    dead: tuple[str, str] | None = None  # (error class, error message)
    skipped: bool = False

    @property
    def partition_key(self) -> PartitionKey:
        return (self.message.topic(), self.message.partition())


@dataclass
class _RetryState:
    first_failure: float
    attempts: int = 0
    last_error: str = ""


@dataclass
class _BatchResult:
    done: dict[PartitionKey, int] = field(default_factory=dict)  # last finished offset per partition
    dead: list[_Item] = field(default_factory=list)
    retry: dict[PartitionKey, tuple[int, float]] = field(default_factory=dict)  # offset, resume at


class EventConsumer:
    def __init__(
        self,
        *,
        group: str,
        event_types: Collection[str],
        countries: Collection[str] | None,
        batch_size: int,
        retry_window_seconds: float,
        handler_attempts: int,
        poll_timeout: float = 0.5,
    ) -> None:
        self.group = group
        self.specs = {spec.topic: spec for spec in (get_event_spec(t) for t in event_types)}
        self.countries = frozenset(countries) if countries else None
        self.batch_size = batch_size
        self.retry_window_seconds = retry_window_seconds
        self.handler_attempts = handler_attempts
        self.poll_timeout = poll_timeout
        self.consumer = Consumer(consumer_config(group))
        self.dead_letters = DeadLetterPublisher(group=group)
        self._retries: dict[tuple[str, int, int], _RetryState] = {}
        self._paused: dict[PartitionKey, float] = {}
        self._outage_backoff = 0.0

    @property
    def topics(self) -> list[str]:
        return sorted(self.specs)

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe(self.topics)
        logger.info("consuming %s as group %s (countries: %s)", self.topics, self.group, self.countries or "all")
        try:
            while not stop.is_set():
                self._resume_due_partitions()
                batch = self.consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
                if batch:
                    self.process(batch, stop)
        finally:
            # Leaves the group at once, so its partitions move to another member without waiting.
            self.consumer.close()

    def process(self, batch: list[Message], stop: threading.Event) -> None:
        started = time.perf_counter()
        items = [item for item in (self._parse(message) for message in batch) if item is not None]
        try:
            result = self._apply(items)
        except (OperationalError, InterfaceError) as exc:
            self._wait_out_outage(items, stop, f"database unavailable: {exc}")
            return
        if result.dead:
            for item in result.dead:
                error_class, error_message = item.dead or ("", "")
                self.dead_letters.send(item.message, error_class=error_class, error_message=error_message)
            try:
                self.dead_letters.flush()
            except DeadLetterPublishError as exc:
                self._wait_out_outage(items, stop, f"dead-letter topic unavailable: {exc}")
                return
            for item in result.dead:
                EVENTS_DEAD_LETTERED.labels(item.message.topic(), (item.dead or ("",))[0]).inc()
                EVENTS_CONSUMED.labels(item.spec.name, "dead_lettered").inc()
        if result.done:
            self.consumer.commit(
                offsets=[
                    TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in result.done.items()
                ],
                asynchronous=False,
            )
        for (topic, partition), (offset, resume_at) in result.retry.items():
            tp = TopicPartition(topic, partition, offset)
            self.consumer.pause([tp])
            self.consumer.seek(tp)
            self._paused[(topic, partition)] = resume_at
        self._outage_backoff = 0.0
        elapsed = time.perf_counter() - started
        CONSUMER_BATCH_SECONDS.observe(elapsed)
        if items:
            CONSUMER_MESSAGE_SECONDS.observe(elapsed / len(items))

    def _parse(self, message: Message) -> _Item | None:
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                logger.warning("consumer error: %s", message.error())
            return None
        item = _Item(message=message, spec=self.specs[message.topic()])
        try:
            decoded = decode_message(message.value())
        except MalformedMessage as exc:
            item.dead = ("MalformedMessage", str(exc))
            return item
        errors = validate_message(item.spec.name, decoded)
        if errors:
            item.dead = ("ValidationFailed", orjson.dumps([e.as_dict() for e in errors]).decode())
            return item
        metadata = decoded["metadata"]
        if self.countries is not None and metadata.get("country") not in self.countries:
            item.skipped = True
            return item
        key = message.key()
        item.event = IncomingEvent(
            event_type=item.spec.name,
            eid=UUID(str(metadata["eid"])),
            metadata=metadata,
            data=decoded["data"],
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=key.decode("utf-8", "replace") if key is not None else None,
        )
        return item

    def _apply(self, items: list[_Item]) -> _BatchResult:
        result = _BatchResult()
        blocked: set[PartitionKey] = set()
        with transaction.atomic():
            for item in items:
                pk = item.partition_key
                if pk in blocked:
                    continue
                if item.event is not None:
                    outcome = self._handle(item)
                    if outcome is not None:  # try again later: nothing after it in this partition
                        blocked.add(pk)
                        result.retry[pk] = (item.message.offset(), outcome)
                        continue
                elif item.skipped:
                    EVENTS_CONSUMED.labels(item.spec.name, "skipped").inc()
                if item.dead is not None:
                    result.dead.append(item)
                result.done[pk] = item.message.offset()
        return result

    def _handle(self, item: _Item) -> float | None:
        """Applies one event in a savepoint; returns when to retry it, or None when it is finished."""
        event = item.event
        assert event is not None
        handler = handler_for(event.event_type)
        recorded = False
        try:
            with transaction.atomic():
                InboxMessage.objects.create(
                    eid=event.eid,
                    group=self.group,
                    event_type=event.event_type,
                    topic=event.topic,
                    partition=event.partition,
                    offset=event.offset,
                    key=event.key or "",
                    message={"metadata": event.metadata, "data": event.data},
                )
                recorded = True
                if handler is not None:
                    handler(event)
                expectations_answer(event=event)
        except IntegrityError as exc:
            if not recorded:
                EVENTS_CONSUMED.labels(event.event_type, "duplicate").inc()
                return None
            return self._failed(item, exc)
        except RejectMessage as exc:
            item.dead = ("RejectMessage", str(exc))
            return None
        except RetryMessageLater as exc:
            return self._retry_later(item, str(exc), counts_as_attempt=False)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the consumer
            return self._failed(item, exc)
        self._retries.pop(self._retry_key(item), None)
        EVENTS_CONSUMED.labels(event.event_type, "processed").inc()
        return None

    def _failed(self, item: _Item, exc: Exception) -> float | None:
        logger.exception("handler of %s failed", item.spec.name, exc_info=exc)
        return self._retry_later(item, f"{type(exc).__name__}: {exc}", counts_as_attempt=True)

    @staticmethod
    def _retry_key(item: _Item) -> tuple[str, int, int]:
        return (item.message.topic(), item.message.partition(), item.message.offset())

    def _retry_later(self, item: _Item, reason: str, *, counts_as_attempt: bool) -> float | None:
        now = time.monotonic()
        state = self._retries.setdefault(self._retry_key(item), _RetryState(first_failure=now))
        state.attempts += 1
        state.last_error = reason
        exhausted = (
            state.attempts >= self.handler_attempts
            if counts_as_attempt
            else now - state.first_failure >= self.retry_window_seconds
        )
        if exhausted:
            self._retries.pop(self._retry_key(item), None)
            item.dead = (
                "HandlerFailed" if counts_as_attempt else "RetryWindowExceeded",
                f"{reason} (after {state.attempts} attempts over {now - state.first_failure:.1f}s)",
            )
            return None
        delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (state.attempts - 1))
        return now + delay

    def _resume_due_partitions(self) -> None:
        now = time.monotonic()
        due = [pk for pk, resume_at in self._paused.items() if resume_at <= now]
        if due:
            self.consumer.resume([TopicPartition(topic, partition) for topic, partition in due])
            for pk in due:
                del self._paused[pk]

    def _wait_out_outage(self, items: list[_Item], stop: threading.Event, reason: str) -> None:
        """Rewinds every partition of the batch to its first message and waits before trying again."""
        connection.close()
        first: dict[PartitionKey, int] = {}
        for item in items:
            first.setdefault(item.partition_key, item.message.offset())
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))
        self._outage_backoff = min(OUTAGE_MAX_BACKOFF_SECONDS, max(0.5, self._outage_backoff * 2))
        logger.warning("%s; retrying the batch in %.1fs", reason, self._outage_backoff)
        stop.wait(self._outage_backoff)
