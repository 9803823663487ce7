"""The message envelope: building, encoding and decoding message values, and their Kafka record.

A message value is ``{"metadata": {...}, "data": {...}}`` (DESIGN §3); its Kafka key is the value of
the event type's partition-key field and its headers repeat ``eid`` and ``event_type``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from events.contracts.specification import get_event_spec

DEFAULT_PRODUCER = "refundtool"


class MalformedMessage(ValueError):  # noqa: N818 - the name other parts code against
    """A message value that is not a JSON object: bad bytes, bad JSON, or another JSON value."""


class KafkaRecord(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def build_message(
    event_type: str,
    data: Mapping[str, Any],
    *,
    country: str,
    eid: uuid.UUID | None = None,
    flow_id: str | None = None,
    causation_id: uuid.UUID | str | None = None,
    occurred_at: datetime | None = None,
    producer: str = DEFAULT_PRODUCER,
    version: int | None = None,
) -> dict[str, Any]:
    """A message of the latest version of `event_type` (or `version`); `data` must hold JSON values.

    It is not validated here: validate_message is the one place that does that.
    """
    spec = get_event_spec(event_type, version)
    occurred_at = occurred_at or datetime.now(UTC)
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return {
        "metadata": {
            "eid": str(eid) if eid else new_eid(),
            "event_type": spec.name,
            "version": spec.version,
            "occurred_at": occurred_at.isoformat(),
            "producer": producer,
            "country": country,
            "flow_id": flow_id,
            "causation_id": None if causation_id is None else str(causation_id),
        },
        "data": dict(data),
    }


def new_eid() -> str:
    """A random (version 4) UUID as text, like str(uuid.uuid4()) in a third of the time.

    A refund request causes three outgoing events, and building the UUID object only to print it
    was a visible share of the consumer's work.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def encode_message(message: Mapping[str, Any]) -> bytes:
    return orjson.dumps(message)


def decode_message(raw: bytes | bytearray | memoryview | str | None) -> dict[str, Any]:
    """The message object of a Kafka value; raises MalformedMessage saying what is wrong with it."""
    if raw is None:
        raise MalformedMessage("the message has no value")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"the value is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MalformedMessage(f"the value is a JSON {type(message).__name__}, not an object")
    return message


def kafka_headers(message: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    metadata = message["metadata"]
    return [("eid", str(metadata["eid"]).encode()), ("event_type", str(metadata["event_type"]).encode())]


def kafka_record(message: Mapping[str, Any]) -> KafkaRecord:
    """Topic, key, value and headers of a (valid) message, from the spec version it names."""
    metadata = message["metadata"]
    spec = get_event_spec(metadata["event_type"], metadata["version"])
    return KafkaRecord(
        topic=spec.topic,
        key=spec.key_for(message["data"]).encode(),
        value=encode_message(message),
        headers=kafka_headers(message),
    )
