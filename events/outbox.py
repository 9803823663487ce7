"""The transactional outbox: events are written with the change that causes them, published later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection

from events.bulk import bulk_insert
from events.envelope import build_message
from events.expectations import expectations_open
from events.models import OutboxMessage
from events.specification import get_event_spec
from events.validation import validate_message


class InvalidOutgoingEventError(Exception):
    """Our own event breaks the specification: a programming error, so the whole change rolls back."""


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    event_type: str
    data: Mapping[str, Any]


def outbox_enqueue(
    *,
    events: Sequence[OutgoingEvent],
    country: str,
    causation_id: UUID | str | None = None,
    flow_id: str | None = None,
) -> list[OutboxMessage]:
    """Writes the events one change causes, in order; must run inside that change's transaction.

    On PostgreSQL a statement trigger on the outbox table sends NOTIFY, which the database delivers
    to the relay only when this transaction commits (and folds into one per transaction). The rows
    returned carry their eids; their ids are not read back.
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
) -> list[OutboxMessage]:
    """The outbox rows of the events one change causes, validated but not written yet (see outbox_write).

    Every outgoing event is validated against the specification, also on the consumer's hot path:
    with the compiled validator it costs a few microseconds per event, and an invalid event of ours
    must roll the change back rather than reach another team.
    """
    rows = []
    for event in events:
        spec = get_event_spec(event.event_type)
        message = build_message(
            event.event_type, event.data, country=country, causation_id=causation_id, flow_id=flow_id
        )
        errors = validate_message(event.event_type, message)
        if errors:
            detail = "; ".join(f"{e.path}: {e.message}" for e in errors)
            raise InvalidOutgoingEventError(f"{event.event_type}: {detail}")
        eid = str(message["metadata"]["eid"])
        rows.append(
            OutboxMessage(
                eid=eid,
                event_type=event.event_type,
                version=spec.version,
                topic=spec.topic,
                key=spec.key_for(event.data),
                message=message,
                headers={"eid": eid, "event_type": event.event_type},
            )
        )
    return rows


def outbox_write(*, messages: Sequence[OutboxMessage]) -> None:
    """Writes outbox rows (of one change or of many, in order) in one statement, inside their transaction.

    A command-like event also opens the expectation of its response (events.expectations).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the transaction of the change it announces")
    bulk_insert(messages)
    expectations_open(messages=messages)
