"""Reads of the gateway: producer credentials and the published specification."""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any

import orjson
from django.conf import settings

from events.contracts.generation import asyncapi_document, json_schema
from events.contracts.specification import all_event_specs, default_specification, get_event_spec
from events.gateway.models import ProducerCredential

_credentials: dict[str, tuple[float, ProducerCredential | None]] = {}  # token hash -> (expires, credential)
# Distinct tokens kept at most: a flood of made-up tokens must not grow the process without bound.
MAX_CACHED_TOKENS = 10_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def producer_credential_get_by_token(*, token: str) -> ProducerCredential | None:
    """The active credential whose token this is, or None.

    What the database answers, a credential or "unknown", is kept in this process for
    EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS (default 5; 0 turns it off): a producer that retries
    with a revoked or mistyped token then costs no query per request. A change made in another
    process (admin) takes effect here within that time. Keeping "unknown" never delays a new token:
    it is a new random string, which no earlier request can have sent.
    """
    digest = token_hash(token)
    now = time.monotonic()
    cached = _credentials.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    credential = ProducerCredential.objects.filter(token_hash=digest, is_active=True).first()
    ttl = settings.EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS
    if ttl > 0:
        if len(_credentials) >= MAX_CACHED_TOKENS:
            _forget_expired(now)
        _credentials[digest] = (now + ttl, credential)
    return credential


def _forget_expired(now: float) -> None:
    for digest in [digest for digest, (expires, _) in _credentials.items() if expires <= now]:
        del _credentials[digest]
    if len(_credentials) >= MAX_CACHED_TOKENS:  # all still fresh: a flood, so start over
        _credentials.clear()


def forget_credentials() -> None:
    """Drops this process's cached credentials, after a change to any of them."""
    _credentials.clear()


def envelope_countries() -> list[str]:
    """The countries an event may name: the envelope's metadata.country."""
    return list(default_specification().metadata_schema["properties"]["country"]["enum"])


def event_type_list() -> list[dict[str, Any]]:
    return [
        {
            "name": spec.name,
            "version": spec.version,
            "topic": spec.topic,
            "owner": spec.owner,
            "category": spec.category,
            "partition_key": spec.partition_key,
            "response_event_type": spec.response_event_type,
            "response_timeout_seconds": spec.response_timeout_seconds,
            "description": spec.description,
        }
        for spec in all_event_specs()
    ]


@functools.cache
def event_type_schema_json(event_type: str, version: int | None = None) -> bytes:
    """The JSON Schema of a message of that event type (latest version by default); UnknownEventType."""
    return orjson.dumps(json_schema(get_event_spec(event_type, version)))


@functools.cache
def asyncapi_json() -> bytes:
    return orjson.dumps(asyncapi_document(default_specification()))
