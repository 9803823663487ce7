"""Dead letters: messages a consumer could not take, parked in `<topic>.dlq` with the reason.

Writing a dead letter needs only the broker, never the database, because the database may be
what just failed. Reading, replaying and discarding them are operator actions; a decision is
recorded in the database so the list shows what was done, by whom and why.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from django.db import IntegrityError, transaction

from events.messaging.kafka import admin_client, client_config, java_partition, producer_config
from events.messaging.models import DeadLetterDecision
from events.messaging.topics import DLQ_SUFFIX

H_ERROR_CLASS = "dlq.error.class"
H_ERROR_MESSAGE = "dlq.error.message"
H_TOPIC = "dlq.original.topic"
H_PARTITION = "dlq.original.partition"
H_OFFSET = "dlq.original.offset"
H_GROUP = "dlq.group"
H_FAILED_AT = "dlq.failed_at"
H_TRUNCATED = "dlq.truncated"  # "true" on a shortened letter: the value is the original's first part
H_VALUE_BYTES = "dlq.original.value_bytes"
H_LETTER_ERROR = "dlq.letter.error"  # why the whole letter could not be written
DLQ_HEADERS = (
    H_ERROR_CLASS,
    H_ERROR_MESSAGE,
    H_TOPIC,
    H_PARTITION,
    H_OFFSET,
    H_GROUP,
    H_FAILED_AT,
    H_TRUNCATED,
    H_VALUE_BYTES,
    H_LETTER_ERROR,
)
MAX_ERROR_MESSAGE_BYTES = 4000
# A shortened letter keeps this much of the value and of each original header, and at most this many headers.
TRUNCATED_VALUE_BYTES = 16 * 1024
TRUNCATED_HEADER_BYTES = 1024
TRUNCATED_HEADERS = 16
# Broker or client answers that no retry of the same letter can change: write a shortened one instead.
_REFUSED_FOR_GOOD = {
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.INVALID_RECORD,
    KafkaError.INVALID_MSG,  # the broker found the record corrupt
    KafkaError.INVALID_MSG_SIZE,
}


class DeadLetterNotFoundError(LookupError):
    pass


class DeadLetterAlreadyDecidedError(Exception):
    pass


class DeadLetterPublishError(Exception):
    pass


def _header_map(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    return {name: (value or b"").decode("utf-8", "replace") for name, value in headers or []}


class DeadLetterPublisher:
    """Sends failed messages to their dead-letter topic; flush() says whether all arrived.

    A letter the broker or the client refuses for good (too large, say: the value near the limit plus
    the dlq headers) is written again shortened: the dlq headers, the original headers and the first
    TRUNCATED_VALUE_BYTES of the value, marked dlq.truncated. The consumer commits past a message only
    once some letter of it is durable, and a letter that cannot be written never kills the process.
    """

    def __init__(self, *, group: str, producer: Producer | None = None) -> None:
        self.group = group
        self._owns_producer = producer is None
        self.producer = producer or Producer(producer_config())
        self._failed: list[str] = []
        self._to_shorten: list[tuple[Message, list[tuple[str, bytes]], str]] = []

    def send(self, message: Message, *, error_class: str, error_message: str) -> None:
        headers = [
            (H_ERROR_CLASS, error_class.encode()),
            (H_ERROR_MESSAGE, error_message.encode("utf-8", "replace")[:MAX_ERROR_MESSAGE_BYTES]),
            (H_TOPIC, message.topic().encode()),
            (H_PARTITION, str(message.partition()).encode()),
            (H_OFFSET, str(message.offset()).encode()),
            (H_GROUP, self.group.encode()),
            (H_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        original = [(k, v) for k, v in (message.headers() or []) if k not in DLQ_HEADERS]
        try:
            self._produce(message, message.value(), [*original, *headers], self._on_delivery(message, headers))
        except KafkaException as exc:
            if exc.args[0].code() not in _REFUSED_FOR_GOOD:
                raise
            self._to_shorten.append((message, headers, str(exc.args[0])))

    def _produce(self, message: Message, value: bytes | None, headers: list, on_delivery: object) -> None:
        self.producer.produce(
            message.topic() + DLQ_SUFFIX, key=message.key(), value=value, headers=headers, on_delivery=on_delivery
        )

    def _on_delivery(self, message: Message, headers: list[tuple[str, bytes]]) -> object:
        def delivered(error: KafkaError | None, _letter: Message) -> None:
            if error is None:
                return
            if error.code() in _REFUSED_FOR_GOOD:
                self._to_shorten.append((message, headers, str(error)))
            else:
                self._failed.append(str(error))

        return delivered

    def _send_shortened(self, message: Message, headers: list[tuple[str, bytes]], reason: str) -> None:
        value = message.value() or b""
        original = [
            (k, (v or b"")[:TRUNCATED_HEADER_BYTES]) for k, v in (message.headers() or []) if k not in DLQ_HEADERS
        ][:TRUNCATED_HEADERS]
        marks = [
            (H_TRUNCATED, b"true"),
            (H_VALUE_BYTES, str(len(value)).encode()),
            (H_LETTER_ERROR, reason.encode()[:MAX_ERROR_MESSAGE_BYTES]),
        ]

        def delivered(error: KafkaError | None, _letter: Message) -> None:
            if error is not None:
                self._failed.append(f"shortened letter: {error}")

        self._produce(message, value[:TRUNCATED_VALUE_BYTES], [*original, *headers, *marks], delivered)

    def flush(self, timeout: float = 30.0) -> None:
        """Raises DeadLetterPublishError unless a letter (whole or shortened) of every message sent since
        the last flush arrived."""
        remaining = self.producer.flush(timeout)
        while self._to_shorten and not remaining:
            to_shorten, self._to_shorten = self._to_shorten, []
            for message, headers, reason in to_shorten:
                try:
                    self._send_shortened(message, headers, reason)
                except KafkaException as exc:
                    self._failed.append(f"shortened letter: {exc}")
            remaining = self.producer.flush(timeout)
        failed, self._failed = self._failed, []
        self._to_shorten = []
        if remaining or failed:
            raise DeadLetterPublishError(f"{remaining} undelivered, errors: {failed[:3]}")

    def close(self) -> None:
        """Closes the producer it made (one it was given belongs to the caller).

        Every send is flushed before its offset is committed, so nothing is left to deliver here;
        closing now, not whenever the object is collected, stops its connections at once.
        """
        if self._owns_producer:
            self.producer.close()


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str]
    decision: DeadLetterDecision | None = None

    @property
    def error_class(self) -> str:
        return self.headers.get(H_ERROR_CLASS, "")

    @property
    def error_message(self) -> str:
        return self.headers.get(H_ERROR_MESSAGE, "")

    @property
    def failed_at(self) -> str:
        return self.headers.get(H_FAILED_AT, "")

    @property
    def original_topic(self) -> str:
        return self.headers.get(H_TOPIC, self.topic.removesuffix(DLQ_SUFFIX))

    @property
    def value_text(self) -> str:
        return (self.value or b"").decode("utf-8", "replace")

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        key = message.key()
        return cls(
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=key.decode("utf-8", "replace") if key is not None else None,
            value=message.value(),
            headers=_header_map(message.headers()),
        )


def _reader() -> Consumer:
    # A throwaway group that never commits: reading dead letters moves nobody's offsets.
    return Consumer(
        client_config(
            **{
                "group.id": f"refundtool-dlq-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
    )


def dlq_topics(*, timeout: float = 10.0) -> list[str]:
    return sorted(t for t in admin_client().list_topics(timeout=timeout).topics if t.endswith(DLQ_SUFFIX))


def dead_letter_list(*, topics: list[str] | None = None, limit: int = 200, timeout: float = 10.0) -> list[DeadLetter]:
    """Every dead letter of the given (default: all) DLQ topics, oldest first per partition."""
    reader = _reader()
    try:
        metadata = reader.list_topics(timeout=timeout)
        wanted = topics if topics is not None else [t for t in metadata.topics if t.endswith(DLQ_SUFFIX)]
        assignment = [
            TopicPartition(topic, partition, OFFSET_BEGINNING)
            for topic in wanted
            if topic in metadata.topics
            for partition in metadata.topics[topic].partitions
        ]
        letters, _, _ = _read_to_end(reader, assignment, limit=limit, timeout=timeout)
        return _with_decisions(letters)
    finally:
        reader.close()


@dataclass(frozen=True)
class DeadLetterSearch:
    letters: list[DeadLetter]
    complete: bool  # False: the search stopped at its limit or timeout, and older letters may be missing
    read: int


def dead_letters_of_key(*, key: str, read_limit: int = 10_000, timeout: float = 10.0) -> DeadLetterSearch:
    """The dead letters with this Kafka key (the order number of a refund event), of every DLQ topic.

    A dead letter keeps its message's key, and the service's producers put a key on the partition
    Java's partitioner picks, so one partition of each DLQ topic holds them all: only that one is
    read, at most read_limit letters in all.
    """
    raw_key = key.encode()
    reader = _reader()
    try:
        metadata = reader.list_topics(timeout=timeout)
        assignment = [
            TopicPartition(name, java_partition(raw_key, len(topic.partitions)), OFFSET_BEGINNING)
            for name, topic in sorted(metadata.topics.items())
            if name.endswith(DLQ_SUFFIX) and topic.partitions
        ]
        letters, read, complete = _read_to_end(reader, assignment, limit=read_limit, timeout=timeout, key=raw_key)
        return DeadLetterSearch(_with_decisions(letters), complete, read)
    finally:
        reader.close()


def _read_to_end(
    reader: Consumer, assignment: list[TopicPartition], *, limit: int, timeout: float, key: bytes | None = None
) -> tuple[list[DeadLetter], int, bool]:
    """Reads the partitions from their start, at most `limit` messages: the letters (those with
    `key`, when given), how many messages were read, and whether every partition was read to its end."""
    letters: list[DeadLetter] = []
    if not assignment:
        return letters, 0, True
    reader.assign(assignment)
    # Read to the end of each partition (EOF events), not to the high watermark, which some brokers
    # report low right after a batch.
    pending = {(tp.topic, tp.partition) for tp in assignment}
    deadline = time.monotonic() + timeout
    read = 0
    while pending and read < limit and time.monotonic() < deadline:
        for message in reader.consume(num_messages=min(500, limit - read), timeout=0.2):
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((message.topic(), message.partition()))
                continue
            read += 1
            if key is None or message.key() == key:
                letters.append(DeadLetter.from_message(message))
    return letters, read, not pending


def dead_letter_get(*, topic: str, partition: int, offset: int, timeout: float = 10.0) -> DeadLetter:
    reader = _reader()
    try:
        tp = TopicPartition(topic, partition, offset)
        low, high = reader.get_watermark_offsets(tp, timeout=timeout)
        if offset < low:
            raise DeadLetterNotFoundError(f"no dead letter at {topic}[{partition}]@{offset} (earliest is {low})")
        reader.assign([tp])
        # Some brokers (tansu) report the high watermark low right after a batch, so an offset at or
        # past it is still looked for, briefly.
        message = reader.poll(timeout if offset < high else min(timeout, 2.0))
        if message is None or message.error() or message.offset() != offset:
            raise DeadLetterNotFoundError(f"no dead letter at {topic}[{partition}]@{offset}")
        return _with_decisions([DeadLetter.from_message(message)])[0]
    finally:
        reader.close()


def _with_decisions(letters: list[DeadLetter]) -> list[DeadLetter]:
    if not letters:
        return letters
    decisions = {
        (d.dlq_topic, d.partition, d.offset): d
        for d in DeadLetterDecision.objects.filter(dlq_topic__in={letter.topic for letter in letters})
    }
    return [
        DeadLetter(**{**letter.__dict__, "decision": decisions.get((letter.topic, letter.partition, letter.offset))})
        for letter in letters
    ]


def _decide(letter: DeadLetter, *, action: str, actor: str, reason: str) -> DeadLetterDecision:
    if not reason.strip():
        raise ValueError("a reason is required")
    try:
        with transaction.atomic():
            return DeadLetterDecision.objects.create(
                dlq_topic=letter.topic,
                partition=letter.partition,
                offset=letter.offset,
                action=action,
                actor=actor,
                reason=reason.strip(),
            )
    except IntegrityError as exc:
        raise DeadLetterAlreadyDecidedError(
            f"{letter.topic}[{letter.partition}]@{letter.offset} was already decided"
        ) from exc


def dead_letter_replay(*, topic: str, partition: int, offset: int, actor: str, reason: str) -> DeadLetterDecision:
    """Republishes the original message to its original topic; consumers take it like any other.

    The decision row is written first and rolled back if the broker does not take the message,
    so two operators cannot replay the same letter twice.
    """
    letter = dead_letter_get(topic=topic, partition=partition, offset=offset)
    if letter.headers.get(H_TRUNCATED) == "true":
        raise DeadLetterPublishError(
            f"{topic}[{partition}]@{offset} is a shortened letter (its value was cut): it cannot be replayed;"
            f" read the original at {letter.original_topic}[{letter.headers.get(H_PARTITION)}]"
            f"@{letter.headers.get(H_OFFSET)} while the topic keeps it, or discard it"
        )
    with transaction.atomic():
        decision = _decide(letter, action=DeadLetterDecision.Action.REPLAY, actor=actor, reason=reason)
        producer = Producer(producer_config())
        errors: list[KafkaError] = []
        producer.produce(
            letter.original_topic,
            key=letter.key,
            value=letter.value,
            headers=[(k, v.encode()) for k, v in letter.headers.items() if k not in DLQ_HEADERS],
            on_delivery=lambda error, _message: errors.append(error) if error else None,
        )
        if producer.flush(30) or errors:
            raise DeadLetterPublishError(f"replay of {topic}[{partition}]@{offset} failed: {errors or 'timeout'}")
    return decision


def dead_letter_discard(*, topic: str, partition: int, offset: int, actor: str, reason: str) -> DeadLetterDecision:
    letter = dead_letter_get(topic=topic, partition=partition, offset=offset)
    return _decide(letter, action=DeadLetterDecision.Action.DISCARD, actor=actor, reason=reason)
