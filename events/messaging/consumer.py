"""The consumer runtime: batches per poll, an idempotent inbox, dead letters, and no lost offsets.

For each polled batch, in partition order:
- a message that cannot be parsed or validated goes to `<topic>.dlq`;
- a message for a country this deployment does not serve is skipped;
- any other message is recorded in the inbox and handled in one savepoint of the batch's
  transaction; a redelivered eid is a no-op;
- on PostgreSQL, a run of consecutive messages of an event type with a batch handler is recorded
  in the inbox with one INSERT ... ON CONFLICT DO NOTHING and handed to the batch handler at once,
  in one savepoint; if that fails, the run is undone and handled message by message as above;
- either way, the savepoint that applies events runs the events_applied hooks (events.messaging.hooks:
  monitoring answers the command a response responds to there), so a response that is rejected or
  retried leaves its command open;
- a handler's RejectMessage dead-letters the message; RetryMessageLater and unexpected errors
  pause its partition and try again later, until the retry window or the attempts run out.
Offsets are committed only after the batch's transaction commits and its dead letters are
acknowledged. A database outage rewinds the batch and waits: it is never the message's fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from uuid import UUID

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from events.contracts.envelope import MalformedMessage, decode_message
from events.contracts.specification import EventSpec, default_specification
from events.contracts.validation import message_errors
from events.messaging import hooks
from events.messaging.dead_letters import DeadLetterPublisher, DeadLetterPublishError
from events.messaging.exceptions import RejectMessage, RetryMessageLater
from events.messaging.handlers import BatchHandler, IncomingEvent, batch_handler_for, handler_for
from events.messaging.kafka import consumer_config
from events.messaging.metrics import (
    CONSUMER_BATCH_SECONDS,
    CONSUMER_MESSAGE_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
)
from events.messaging.models import InboxMessage

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
OUTAGE_MAX_BACKOFF_SECONDS = 10.0

PartitionKey = tuple[str, int]

# The table name is the model's; every value is a parameter.
_INBOX_INSERT = f"""
    INSERT INTO {InboxMessage._meta.db_table}
        (eid, "group", event_type, topic, "partition", "offset", key, message, received_at)
    SELECT run.eid, %s, run.event_type, run.topic, run.partition, run.offset, run.key, run.message::json, %s
    FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::int4[], %b::int8[], %b::text[], %b::text[])
        AS run(eid, event_type, topic, partition, "offset", key, message)
    ON CONFLICT (eid, "group") DO NOTHING
    RETURNING eid
"""  # noqa: S608


def _event_type(item: _Item) -> str | None:
    return item.event.event_type if item.event is not None else None


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
        # Every version's topic: while producers migrate to a new version, both are read side by side.
        specification = default_specification()
        self.specs = {
            spec.topic: spec
            for event_type in event_types
            for spec in (specification.get(event_type, version) for version in specification.versions(event_type))
        }
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
        # Offsets whose commit failed (a coordinator moving, a rebalance): sent again with the next
        # commit. A redelivery meanwhile is harmless: the inbox makes it a no-op.
        self._uncommitted: dict[PartitionKey, int] = {}

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
                elif self._uncommitted:
                    self._commit({})
        finally:
            self.close()

    def close(self) -> None:
        # Leaves the group at once, so its partitions move to another member without waiting.
        self.consumer.close()
        self.dead_letters.close()

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
            self._commit({key: offset + 1 for key, offset in result.done.items()})
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
        # Against the version of the topic it came from: a message naming another version is refused.
        errors = message_errors(item.spec, decoded)
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
            start = 0
            while start < len(items):
                event = items[start].event
                batch_handler = self._batch_handler(event)
                end = start + 1
                if batch_handler is None or event is None:
                    self._apply_one(items[start], result, blocked)
                else:
                    while end < len(items) and _event_type(items[end]) == event.event_type:
                        end += 1
                    self._apply_run(items[start:end], batch_handler, result, blocked)
                start = end
        return result

    def _apply_one(self, item: _Item, result: _BatchResult, blocked: set[PartitionKey]) -> None:
        pk = item.partition_key
        if pk in blocked:
            return
        if item.event is not None:
            outcome = self._handle(item)
            if outcome is not None:  # try again later: nothing after it in this partition
                blocked.add(pk)
                result.retry[pk] = (item.message.offset(), outcome)
                return
        elif item.skipped:
            EVENTS_CONSUMED.labels(item.spec.name, "skipped").inc()
        if item.dead is not None:
            result.dead.append(item)
        result.done[pk] = item.message.offset()

    @staticmethod
    def _batch_handler(event: IncomingEvent | None) -> BatchHandler | None:
        # The set-based inbox insert needs INSERT ... RETURNING over arrays (unnest): PostgreSQL.
        if event is None or connection.vendor != "postgresql":
            return None
        return batch_handler_for(event.event_type)

    def _apply_run(
        self, run: list[_Item], batch_handler: BatchHandler, result: _BatchResult, blocked: set[PartitionKey]
    ) -> None:
        """Applies consecutive events of one type at once; the same outcome as _apply_one for each in turn.

        Their order is kept: the batch handler applies them as if one after the other. An eid twice
        in the run, or a failing batch handler, sends the run down the one-by-one path instead.
        """
        run = [item for item in run if item.partition_key not in blocked]
        events = [item.event for item in run if item.event is not None]
        if len(events) < 2 or len({event.eid for event in events}) < len(events):
            for item in run:
                self._apply_one(item, result, blocked)
            return
        try:
            with transaction.atomic():
                new = self._record_in_inbox(events)
                refused = batch_handler(new) if new else {}
                hooks.events_applied([event for index, event in enumerate(new) if index not in refused])
                if refused:
                    # As if RejectMessage had rolled back their savepoint: a replay is not a duplicate.
                    InboxMessage.objects.filter(group=self.group, eid__in=[new[i].eid for i in refused]).delete()
        except (OperationalError, InterfaceError):
            raise
        except Exception:  # the one-by-one path decides, message by message
            logger.warning(
                "batch handler of %s failed; applying %d events one by one",
                events[0].event_type,
                len(run),
                exc_info=True,
            )
            for item in run:
                self._apply_one(item, result, blocked)
            return
        new_eids = {event.eid for event in new}
        refused_eids = {new[index].eid: reason for index, reason in refused.items()}
        outcomes: Counter[str] = Counter()  # one metric write per outcome, not one per event
        for item, event in zip(run, events, strict=True):
            if event.eid in refused_eids:
                item.dead = ("RejectMessage", refused_eids[event.eid])
                result.dead.append(item)
            elif event.eid in new_eids:
                if self._retries:
                    self._retries.pop(self._retry_key(item), None)
                outcomes["processed"] += 1
            else:
                outcomes["duplicate"] += 1
            result.done[item.partition_key] = item.message.offset()
        for outcome, count in outcomes.items():
            EVENTS_CONSUMED.labels(events[0].event_type, outcome).inc(count)

    def _record_in_inbox(self, events: list[IncomingEvent]) -> list[IncomingEvent]:
        """Records the events in the inbox in one statement; returns those whose eid is new to the group."""
        connection.ensure_connection()
        # A plain psycopg cursor binds the arrays in binary (%b): no escaping of every JSON text.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                _INBOX_INSERT,
                [
                    self.group,
                    timezone.now(),
                    [event.eid for event in events],
                    [event.event_type for event in events],
                    [event.topic for event in events],
                    [event.partition for event in events],
                    [event.offset for event in events],
                    [event.key or "" for event in events],
                    [orjson.dumps({"metadata": event.metadata, "data": event.data}).decode() for event in events],
                ],
            )
            inserted = {row[0] for row in cursor.fetchall()}
        return [event for event in events if event.eid in inserted]

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
                hooks.events_applied([event])
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

    def _commit(self, offsets: dict[PartitionKey, int]) -> None:
        """Commits `offsets` with any that failed before, for partitions still assigned; a failure is
        logged (once until a commit succeeds) and left for the next batch, never raised."""
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        pending = {key: offset for key, offset in self._uncommitted.items() if key in assigned}
        for key, offset in offsets.items():
            pending[key] = max(offset, pending.get(key, offset))
        if not pending:
            self._uncommitted = {}
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in pending.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            if not self._uncommitted:
                logger.warning("offset commit failed (%s); it goes again with the next batch", exc)
            self._uncommitted = pending
            return
        if self._uncommitted:
            logger.warning("offsets committed again after a failed commit")
        self._uncommitted = {}

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
