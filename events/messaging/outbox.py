"""The transactional outbox: events are written with the change that causes them, published later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone

from events.contracts.envelope import build_message
from events.contracts.specification import get_event_spec
from events.contracts.validation import validate_message
from events.messaging import hooks
from events.messaging.bulk import insert_rows
from events.messaging.models import OutboxMessage


class InvalidOutgoingEventError(Exception):
    """Our own event breaks the specification: a programming error, so the whole change rolls back."""


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    event_type: str
    data: Mapping[str, Any]
    # The spec version the data is written in; None is the latest. An app that publishes an older
    # version beside the latest, while its readers migrate, names it.
    version: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox row about to be written: plain values, because the consumer writes thousands a second."""

    eid: str
    event_type: str
    version: int
    topic: str
    key: str
    message: dict[str, Any]
    created_at: datetime

    @property
    def headers(self) -> dict[str, str]:
        return {"eid": self.eid, "event_type": self.event_type}


_COLUMNS = (
    "eid",
    "event_type",
    "version",
    "topic",
    "key",
    "message",
    "headers",
    "created_at",
    "attempts",
    "last_error",
)


def outbox_enqueue(
    *,
    events: Sequence[OutgoingEvent],
    country: str,
    causation_id: UUID | str | None = None,
    flow_id: str | None = None,
) -> list[OutboxEntry]:
    """Writes the events one change causes, in order; must run inside that change's transaction.

    On PostgreSQL a statement trigger on the outbox table sends NOTIFY, which the database delivers
    to the relay only when this transaction commits (and folds into one per transaction).
    """
    messages = outbox_messages(events=events, country=country, causation_id=causation_id, flow_id=flow_id)
    outbox_write(messages=messages)
    return messages


def outbox_messages(
    *,
    events: Sequence[OutgoingEvent],
    country: str,
    causation_id: UUID | str | None = None,
    flow_id: str | None = None,
) -> list[OutboxEntry]:
    """The outbox rows of the events one change causes, validated but not written yet (see outbox_write).

    Every outgoing event is validated against the specification, also on the consumer's hot path:
    with the compiled validator it costs a few microseconds per event, and an invalid event of ours
    must roll the change back rather than reach another team.
    """
    rows = []
    now = timezone.now()
    for event in events:
        spec = get_event_spec(event.event_type, event.version)
        message = build_message(
            event.event_type,
            event.data,
            country=country,
            causation_id=causation_id,
            flow_id=flow_id,
            occurred_at=now,
            version=spec.version,
        )
        errors = validate_message(event.event_type, message)
        if errors:
            detail = "; ".join(f"{e.path}: {e.message}" for e in errors)
            raise InvalidOutgoingEventError(f"{event.event_type}: {detail}")
        eid = str(message["metadata"]["eid"])
        rows.append(
            OutboxEntry(
                eid=eid,
                event_type=event.event_type,
                version=spec.version,
                topic=spec.topic,
                key=spec.key_for(event.data),
                message=message,
                created_at=now,
            )
        )
    return rows


def outbox_write(*, messages: Sequence[OutboxEntry], copy: bool = False) -> None:
    """Writes outbox rows (of one change or of many, in order) in one statement, inside their transaction.

    `copy` is for the consumer's batch path (events.messaging.bulk). Then the outbox_written hooks run
    in the same transaction (events.messaging.hooks): monitoring opens the expectation of each
    command's response there.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the transaction of the change it announces")
    insert_rows(
        OutboxMessage,
        _COLUMNS,
        ((m.eid, m.event_type, m.version, m.topic, m.key, m.message, m.headers, m.created_at, 0, "") for m in messages),
        copy=copy,
    )
    hooks.outbox_written(messages, copy=copy)
