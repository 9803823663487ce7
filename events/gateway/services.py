"""Writes of the gateway: issuing producer credentials, and publishing a request's events."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.contracts.envelope import KafkaRecord, encode_message, kafka_headers
from events.contracts.errors import FieldError
from events.contracts.specification import default_specification
from events.contracts.validation import message_errors, spec_for_message
from events.gateway.metrics import GATEWAY_EVENTS
from events.gateway.models import ProducerCredential
from events.gateway.publisher import Refusal, publish_batch
from events.gateway.selectors import envelope_countries, forget_credentials, token_hash

logger = logging.getLogger(__name__)
TOKEN_PREFIX = "rtg_"  # noqa: S105 - marks a gateway token in logs and secret scanners


# --- credentials ---------------------------------------------------------------------------------


def producer_credential_create(
    *, name: str, event_types: Iterable[str], countries: Iterable[str] = (), is_active: bool = True
) -> tuple[ProducerCredential, str]:
    """A new credential and its token; the token is not stored and cannot be shown again.

    `countries` limits it to events of those countries; none: every country.
    """
    token = _new_token()
    credential = ProducerCredential(
        name=name,
        event_types=_known_event_types(event_types),
        countries=_known_countries(countries),
        is_active=is_active,
        token_hash=token_hash(token),
        token_prefix=token[:12],
        token_issued_at=timezone.now(),
    )
    credential.full_clean()
    credential.save()
    forget_credentials()
    return credential, token


def producer_credential_update(
    *,
    credential: ProducerCredential,
    name: str,
    event_types: Iterable[str],
    is_active: bool,
    countries: Iterable[str] = (),
) -> ProducerCredential:
    credential.name = name
    credential.event_types = _known_event_types(event_types)
    credential.countries = _known_countries(countries)
    credential.is_active = is_active
    credential.full_clean()
    credential.save(update_fields=["name", "event_types", "countries", "is_active"])
    forget_credentials()
    return credential


@transaction.atomic
def producer_credential_rotate_token(*, credential: ProducerCredential) -> str:
    """Replaces the token at once: the old one stops working. Returns the new token."""
    token = _new_token()
    credential.token_hash = token_hash(token)
    credential.token_prefix = token[:12]
    credential.token_issued_at = timezone.now()
    credential.save(update_fields=["token_hash", "token_prefix", "token_issued_at"])
    forget_credentials()
    return token


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _known_event_types(event_types: Iterable[str]) -> list[str]:
    known = {spec.name for spec in default_specification().specs}
    chosen = sorted(set(event_types))
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValidationError({"event_types": f"unknown event types: {', '.join(unknown)}"})
    return chosen


def _known_countries(countries: Iterable[str]) -> list[str]:
    known = envelope_countries()
    chosen = sorted(set(countries))
    unknown = [code for code in chosen if code not in known]
    if unknown:
        raise ValidationError({"countries": f"unknown countries: {', '.join(unknown)}"})
    return chosen


# --- publishing ------------------------------------------------------------------------------------


class EventStatus(StrEnum):
    SUBMITTED = "submitted"
    FAILED = "failed"
    ABORTED = "aborted"  # valid, but not written because another event of the request was not


@dataclass(slots=True)
class EventOutcome:
    index: int
    eid: str | None
    status: EventStatus
    errors: list[FieldError] = field(default_factory=list)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "eid": self.eid, "status": self.status.value}
        if self.status is EventStatus.SUBMITTED:
            result.update(topic=self.topic, partition=self.partition, offset=self.offset)
        else:
            result["errors"] = [error.as_dict() for error in self.errors]
        return result


class EventsNotWrittenError(Exception):
    """Not every event of a request was written; one outcome per event says what became of it."""

    def __init__(self, outcomes: list[EventOutcome]) -> None:
        super().__init__(self.__doc__)
        self.outcomes = outcomes


class EventsRejectedError(EventsNotWrittenError):
    """At least one event is invalid, so none was written."""


class BrokerUnavailableError(EventsNotWrittenError):
    """The broker took none of the events."""


class EventsPartlyWrittenError(EventsNotWrittenError):
    """The broker took some of the events but not all."""


class WrittenEvent(TypedDict):
    """Where the broker wrote an event: one entry of the gateway's 200 answer, as it is serialized."""

    eid: str
    topic: str
    partition: int
    offset: int


def events_publish(*, event_type: str, events: Sequence[Any], producer_name: str = "") -> list[WrittenEvent]:
    """Validates every event, then writes all of them, or none when any is invalid.

    Each event goes to its version's topic, keyed by its partition-key value, with the eid and
    event_type headers and metadata.received_at set now. Returns where each event was written, in
    order, when the broker took them all. Otherwise raises, with one outcome per event:
    EventsRejectedError (nothing written: invalid events, or all refused by the broker for good, such
    as too large), BrokerUnavailableError (nothing taken, and a retry may succeed) or
    EventsPartlyWrittenError.
    """
    records, errors = _validated_records(event_type, events, received_at=datetime.now(UTC).isoformat())
    if errors:
        logger.info("gateway rejected %d %s events from %s", len(events), event_type, producer_name)
        _count_outcomes(event_type, failed=len(errors), aborted=len(events) - len(errors))
        raise EventsRejectedError(
            [
                EventOutcome(
                    index,
                    event_eid(event),
                    EventStatus.FAILED if index in errors else EventStatus.ABORTED,
                    errors.get(index, []),
                )
                for index, event in enumerate(events)
            ]
        )

    deliveries = publish_batch(records)
    refused = sum(type(delivery) is Refusal for delivery in deliveries)
    if not refused:
        _count_outcomes(event_type, submitted=len(events))
        # The common answer, built straight from the reports: at 100 events a request, an object of
        # ours per event in between was a measurable share of the gateway's work
        # (bench.gateway.instructions).
        return [
            {
                "eid": event["metadata"]["eid"],
                "topic": record.topic,
                "partition": message.partition(),
                "offset": message.offset(),
            }
            for event, record, message in zip(events, records, deliveries, strict=True)
        ]

    outcomes = [
        EventOutcome(
            index,
            event["metadata"]["eid"],
            EventStatus.FAILED,
            [FieldError(path="", message=f"not written: {delivery.error}")],
        )
        if type(delivery) is Refusal
        else EventOutcome(
            index,
            event["metadata"]["eid"],
            EventStatus.SUBMITTED,
            [],
            record.topic,
            delivery.partition(),
            delivery.offset(),
        )
        for index, (event, record, delivery) in enumerate(zip(events, records, deliveries, strict=True))
    ]
    _count_outcomes(event_type, submitted=len(outcomes) - refused, failed=refused)
    logger.warning(
        "gateway could not write %d of %d %s events from %s", refused, len(events), event_type, producer_name
    )
    if refused < len(outcomes):
        raise EventsPartlyWrittenError(outcomes)
    # "Broker down, retry" would be wrong when every event was refused for what it is: a retry gets
    # the same answer, so the request is answered like any invalid one.
    if all(delivery.refused_for_good for delivery in deliveries):
        raise EventsRejectedError(outcomes)
    raise BrokerUnavailableError(outcomes)


def _count_outcomes(event_type: str, **counts: int) -> None:
    """Events by outcome (an EventStatus value): one metric write per outcome, not one per event."""
    for outcome, count in counts.items():
        if count:
            GATEWAY_EVENTS.labels(event_type, outcome).inc(count)


def _validated_records(
    event_type: str, events: Sequence[Any], *, received_at: str
) -> tuple[list[KafkaRecord], dict[int, list[FieldError]]]:
    """The Kafka record of each event, and the errors of each invalid one by its index.

    received_at is set before validation, so each event is encoded in the same pass.
    """
    records: list[KafkaRecord] = []
    errors: dict[int, list[FieldError]] = {}
    first_index_of_eid: dict[str, int] = {}
    for index, event in enumerate(events):
        if type(event) is not dict:
            errors[index] = [FieldError(path="", message="an event must be a JSON object")]
            continue
        metadata = event.get("metadata")
        if type(metadata) is dict:
            metadata["received_at"] = received_at
        spec = spec_for_message(event_type, event)
        event_errors = message_errors(spec, event)
        if event_errors:
            errors[index] = event_errors
            continue
        eid = metadata["eid"]
        if eid in first_index_of_eid:
            message = f"repeats the eid of event {first_index_of_eid[eid]} of this request"
            errors[index] = [FieldError(path="/metadata/eid", message=message)]
            continue
        first_index_of_eid[eid] = index
        if not errors:  # once one event is invalid, nothing is written: no need to encode the rest
            key = spec.key_for(event["data"]).encode()
            records.append(KafkaRecord(spec.topic, key, encode_message(event), kafka_headers(event)))
    return records, errors


def event_eid(event: Any) -> str | None:
    """The event's metadata.eid when it is a string, for its outcome; None otherwise."""
    metadata = event.get("metadata") if type(event) is dict else None
    eid = metadata.get("eid") if type(metadata) is dict else None
    return eid if type(eid) is str else None
