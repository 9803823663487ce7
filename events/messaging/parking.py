"""Outbox rows the broker refused for good: parked, shown, and released by an operator.

The relay parks a row when the broker's answer can never change by retrying (a record too large, an
invalid record, a topic it may not write to). A parked row and every later row of its key stay in
the outbox, so per-key order holds; rows of other keys go on. An operator then retries the row (after
fixing the topic's configuration or ACL) or skips it (its event is never sent; the decision keeps a
copy). Both are audited as OutboxDecision rows. Anything else the broker answers is transient, and the
relay keeps retrying it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from confluent_kafka import KafkaError
from django.db import transaction
from django.db.models import QuerySet

from events.messaging import hooks
from events.messaging.metrics import OUTBOX_PARKED
from events.messaging.models import OutboxDecision, OutboxMessage

logger = logging.getLogger(__name__)

# Answers that say the same record will be refused again, whatever the relay does.
_REFUSED_FOR_GOOD = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,  # the broker's max.message.bytes, or the client's message.max.bytes
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_MSG,  # Kafka's CORRUPT_MESSAGE
        KafkaError.TOPIC_EXCEPTION,  # an invalid topic name
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.POLICY_VIOLATION,
        KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        KafkaError._INVALID_ARG,
    }
)


class OutboxRowNotParkedError(LookupError):
    """Only a parked row can be retried or skipped."""


def refused_for_good(error: KafkaError) -> bool:
    return error.code() in _REFUSED_FOR_GOOD


def outbox_park(*, refusals: dict[int, tuple[str, str]], now: datetime) -> None:
    """Parks rows (id -> (event type, refusal)) inside the relay's transaction, and lets the owners of
    their subjects know (events.messaging.hooks.outbox_parked_changed), in the same transaction."""
    for row_id, (event_type, refusal) in refusals.items():
        OutboxMessage.objects.filter(id=row_id).update(failed_at=now, last_error=refusal[:2000])
        OUTBOX_PARKED.labels(event_type).inc()
        logger.error("outbox row %d (%s) parked: the broker refused it for good: %s", row_id, event_type, refusal)
    hooks.outbox_parked_changed()


def outbox_parked() -> QuerySet[OutboxMessage]:
    """Parked rows, oldest first."""
    return OutboxMessage.objects.filter(failed_at__isnull=False, published_at__isnull=True).order_by("id")


@transaction.atomic
def outbox_retry(*, ids: Collection[int], actor: str, reason: str) -> int:
    """Puts parked rows back in line: the relay sends them (and the rows of their keys) again."""
    rows = _lock_parked(ids)
    _decide(rows, action=OutboxDecision.Action.RETRY, actor=actor, reason=reason)
    OutboxMessage.objects.filter(id__in=[row.id for row in rows]).update(failed_at=None)
    hooks.outbox_parked_changed()
    return len(rows)


@transaction.atomic
def outbox_skip(*, ids: Collection[int], actor: str, reason: str) -> int:
    """Gives up on parked rows: they leave the outbox unsent, and the later rows of their keys go on."""
    rows = _lock_parked(ids)
    _decide(rows, action=OutboxDecision.Action.SKIP, actor=actor, reason=reason)
    OutboxMessage.objects.filter(id__in=[row.id for row in rows]).delete()
    hooks.outbox_parked_changed()
    return len(rows)


def _lock_parked(ids: Collection[int]) -> list[OutboxMessage]:
    rows = list(outbox_parked().filter(id__in=list(ids)).select_for_update())
    missing = set(ids) - {row.id for row in rows}
    if missing:
        raise OutboxRowNotParkedError(f"not parked (published, skipped or never refused): {sorted(missing)}")
    return rows


def _decide(rows: list[OutboxMessage], *, action: str, actor: str, reason: str) -> None:
    if not reason.strip():
        raise ValueError("a reason is required")
    OutboxDecision.objects.bulk_create(
        OutboxDecision(
            eid=row.eid,
            event_type=row.event_type,
            topic=row.topic,
            key=row.key,
            message=row.message,
            refusal=row.last_error,
            action=action,
            actor=actor,
            reason=reason,
        )
        for row in rows
    )
