"""The outbox relay: publishes committed outbox rows in order and marks them published.

Several relays may run: each claims a batch with FOR UPDATE SKIP LOCKED. Per key, a later row is
never sent before an earlier one is acknowledged: a claimed row waits when an earlier row of its key
is held by another relay or parked, and within a batch the rows of one key go out in rounds, one per
key per round, each round acknowledged before the next. A crash between publish and mark re-sends the
row with the same eid, which consumers drop. A row the broker refuses for good is parked
(events.messaging.parking); a transient refusal is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import psycopg
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, Min, OuterRef, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from events.messaging.kafka import UNCONFIRMED, producer_config, unconfirmed
from events.messaging.metrics import EVENTS_PRODUCED, OUTBOX_PUBLISH_LATENCY
from events.messaging.models import OutboxMessage
from events.messaging.parking import outbox_park, refused_for_good
from events.messaging.process import BACKOFF_MAX_SECONDS, retry_until_done

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "refundtool_outbox"
DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError)
PRUNE_EVERY_SECONDS = 300.0
PRUNE_CHUNK_SIZE = 5000
PRUNE_CHUNKS_PER_PASS = 20  # at most ~100,000 rows between two looks for work


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]
    event_type: str
    version: int
    created_at: datetime


class BatchOutcome(NamedTuple):
    published: int
    failed: int  # refused for now: retried after a backoff
    parked: int  # refused for good: left for an operator


class OutboxRelay:
    def __init__(self, *, batch_size: int, poll_interval: float, retention: timedelta) -> None:
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention = retention
        self.producer = self._new_producer()
        self._listener: psycopg.Connection | None = None
        self._backoff = 0.0
        self._last_prune = 0.0
        self._prune_unfinished = False

    def run(self, stop: threading.Event) -> None:
        """Relays until `stop`. A database outage, at start or later, is waited out with capped,
        jittered backoff (``retry_until_done``); a broker that does not take events, with the same
        backoff here. Each is logged once when it starts and once when it ends."""
        try:
            while not stop.is_set():
                outcome = self._relay_once(stop)
                if outcome is None:
                    return  # stopped while the database was down
                published, failed, parked = outcome
                if failed:
                    # After timeouts an idempotent producer may be fenced or fatally failed; a new one
                    # starts a fresh producer id, and per-key order holds because failed keys waited.
                    self.producer.flush(0)
                    self.producer = self._new_producer()
                    self._backoff = min(BACKOFF_MAX_SECONDS, max(0.5, self._backoff * 2))
                    logger.warning("broker did not take %d event(s); retrying in %.1fs", failed, self._backoff)
                    stop.wait(self._backoff)
                    continue
                if parked:
                    self.producer.flush(0)
                    self.producer = self._new_producer()  # an idempotent producer's sequence broke there
                self._backoff = 0.0
                if published or parked:  # look again before sleeping: a commit may have landed meanwhile
                    continue
                try:
                    self._wait_for_work(stop)
                except psycopg.Error:
                    self._reconnect()
        finally:
            self.producer.flush(5)
            self.producer.close()  # now: an open producer keeps connecting until the object is collected
            if self._listener is not None:
                self._listener.close()

    def _relay_once(self, stop: threading.Event) -> BatchOutcome | None:
        """One batch, and a prune when idle; None when `stop` came while the database was down."""
        outcomes: list[BatchOutcome] = []

        def attempt() -> None:
            try:
                if connection.vendor == "postgresql":
                    self._listen()  # before each look for work, so no commit falls between the two
                outcome = self.relay_batch()
                if not any(outcome) and (
                    self._prune_unfinished or time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS
                ):
                    self.prune()
            except DATABASE_ERRORS:
                self._reconnect()
                raise
            outcomes.append(outcome)

        if not retry_until_done(attempt, stop=stop, what="database", errors=DATABASE_ERRORS):
            return None
        return outcomes[-1]

    @staticmethod
    def _new_producer() -> Producer:
        return Producer(producer_config(**{"delivery.timeout.ms": settings.REFUNDTOOL_OUTBOX_DELIVERY_TIMEOUT_MS}))

    def relay_batch(self) -> BatchOutcome:
        """Publishes one claimed batch and parks what the broker refused for good."""
        with transaction.atomic():
            rows = self._without_keys_held_elsewhere(self._claim())
            if not rows:
                return BatchOutcome(0, 0, 0)
            published, errors = self._publish_in_key_order(rows)
            if settings.REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS:
                time.sleep(settings.REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS / 1000)
            now = timezone.now()
            if published:
                OutboxMessage.objects.filter(id__in=[row.id for row in published]).update(
                    published_at=now, attempts=F("attempts") + 1, last_error=""
                )
            refusals = {row.id: (row.event_type, str(errors[row.id])) for row in rows if _for_good(errors.get(row.id))}
            for row in rows:
                if row.id in errors:
                    OutboxMessage.objects.filter(id=row.id).update(
                        attempts=F("attempts") + 1, last_error=str(errors[row.id])[:2000]
                    )
            if refusals:
                outbox_park(refusals=refusals, now=now)
        for (event_type, version), count in Counter((row.event_type, row.version) for row in published).items():
            EVENTS_PRODUCED.labels(event_type, str(version)).inc(count)
        for row in published:
            OUTBOX_PUBLISH_LATENCY.observe((now - row.created_at).total_seconds())
        if len(errors) > len(refusals):
            logger.warning("first delivery error: %s", next(e for i, e in errors.items() if i not in refusals))
        return BatchOutcome(len(published), len(errors) - len(refusals), len(refusals))

    def _claim(self) -> list[_Row]:
        """The oldest unpublished rows no other relay holds and no parked row holds back, locked until
        this transaction ends."""
        if connection.vendor == "postgresql":
            # Between two ANALYZEs of a fast-growing outbox the planner expects a handful of
            # unpublished rows and reads them all through a bitmap, then sorts them, for every batch:
            # the relay slowed down as its backlog grew. Walking the partial index in id order
            # stops after one batch.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_bitmapscan = off")
        parked_before = OutboxMessage.objects.filter(
            failed_at__isnull=False, key=OuterRef("key"), id__lt=OuterRef("id")
        )
        claimed = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, failed_at__isnull=True)
            .exclude(Exists(parked_before))
            .order_by("id")
            # The message as its stored JSON text, which is what goes to Kafka: no decoding and
            # re-encoding of every message.
            .annotate(text=Cast("message", TextField()))
            .values_list("id", "topic", "key", "text", "headers", "event_type", "version", "created_at")[
                : self.batch_size
            ]
        )
        return [
            _Row(
                id=row_id,
                topic=topic,
                key=key,
                value=text.encode(),
                headers=[(name, str(value).encode()) for name, value in headers.items()],
                event_type=event_type,
                version=version,
                created_at=created_at,
            )
            for row_id, topic, key, text, headers, event_type, version, created_at in claimed
        ]

    @staticmethod
    def _without_keys_held_elsewhere(claimed: list[_Row]) -> list[_Row]:
        """Drops rows whose key has an earlier unpublished row that this batch does not hold."""
        if not claimed:
            return claimed
        claimed_ids = {row.id for row in claimed}
        earliest_elsewhere = dict(
            OutboxMessage.objects.filter(
                published_at__isnull=True, key__in={row.key for row in claimed}, id__lt=max(claimed_ids)
            )
            .exclude(id__in=claimed_ids)
            .values("key")
            .annotate(first=Min("id"))
            .values_list("key", "first")
        )
        return [row for row in claimed if row.key not in earliest_elsewhere or row.id < earliest_elsewhere[row.key]]

    def _publish_in_key_order(self, rows: list[_Row]) -> tuple[list[_Row], dict[int, KafkaError | str]]:
        by_key: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            by_key[row.key].append(row)
        published: list[_Row] = []
        errors: dict[int, KafkaError | str] = {}
        failed_keys: set[str] = set()
        for round_index in range(max(len(key_rows) for key_rows in by_key.values())):
            batch = [
                key_rows[round_index]
                for key, key_rows in by_key.items()
                if len(key_rows) > round_index and key not in failed_keys
            ]
            if not batch:
                break
            results: dict[int, KafkaError | str | None] = {}
            for row in batch:
                self._produce(row, results)
            self.producer.flush(settings.REFUNDTOOL_OUTBOX_DELIVERY_TIMEOUT_MS / 1000 + 5)
            for row in batch:
                error = results.get(row.id, "no delivery report")
                if error is None:
                    published.append(row)
                else:
                    errors[row.id] = error
                    failed_keys.add(row.key)
        return published, errors

    def _produce(self, row: _Row, results: dict[int, KafkaError | str | None]) -> None:
        def on_delivery(error: KafkaError | None, message: Message, row_id: int = row.id) -> None:
            if error is None and unconfirmed(message):
                results[row_id] = UNCONFIRMED  # sent again, with a new producer
                return
            results[row_id] = error

        while True:
            try:
                self.producer.produce(
                    row.topic, key=row.key.encode(), value=row.value, headers=row.headers, on_delivery=on_delivery
                )
                return
            except BufferError:
                self.producer.poll(0.1)
            except KafkaException as exc:  # refused before sending: larger than the client's own limit
                results[row.id] = exc.args[0]
                return

    def prune(self, *, chunk_size: int = PRUNE_CHUNK_SIZE, chunks: int = PRUNE_CHUNKS_PER_PASS) -> int:
        """Deletes rows published before the retention, oldest first, a chunk per transaction.

        One statement for everything expired would hold a long transaction and keep the relay from
        publishing while it runs (after a burst, or after the relay was down). So a pass stops after
        `chunks` chunks and the next idle moment goes on, not the next PRUNE_EVERY_SECONDS.
        """
        self._last_prune = time.monotonic()
        expired = OutboxMessage.objects.filter(
            published_at__isnull=False, published_at__lt=timezone.now() - self.retention
        ).order_by("published_at")
        deleted = 0
        for _ in range(chunks):
            ids = list(expired.values_list("id", flat=True)[:chunk_size])
            if ids:
                deleted += OutboxMessage.objects.filter(id__in=ids).delete()[0]
            if len(ids) < chunk_size:
                self._prune_unfinished = False
                break
        else:
            self._prune_unfinished = True
        if deleted:
            logger.info("pruned %d published outbox rows (more to go: %s)", deleted, self._prune_unfinished)
        return deleted

    def _wait_for_work(self, stop: threading.Event) -> None:
        """LISTEN/NOTIFY on PostgreSQL wakes the relay within milliseconds of a commit; SQLite polls."""
        if connection.vendor != "postgresql":
            stop.wait(self.poll_interval)
            return
        # A timeout bounds the wait, so a lost notification or a stop request costs at most a second.
        for _ in self._listen().notifies(timeout=1.0, stop_after=1):
            pass

    def _reconnect(self) -> None:
        connection.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _listen(self) -> psycopg.Connection:
        if self._listener is None or self._listener.closed:
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return self._listener


def _for_good(error: KafkaError | str | None) -> bool:
    return isinstance(error, KafkaError) and refused_for_good(error)
