"""Bearer-token authentication of producers, and what each may publish: event types, its own name, countries.

A credential's events are its own: each must carry the credential's name as metadata.producer (the
gateway refuses any other name with 403 rather than rewrite it, so what a producer sends is what
lands on the topic, and a misconfigured producer learns it at once). A credential limited to some
countries may publish only events whose metadata.country, and data.country where the payload has
one, are among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from events.contracts.errors import FieldError
from events.gateway.errors import GatewayError
from events.gateway.models import ProducerCredential
from events.gateway.selectors import producer_credential_get_by_token
from events.gateway.services import EventOutcome, EventStatus, event_eid

_CHALLENGE = 'Bearer realm="events"'


def authenticate(request: HttpRequest) -> ProducerCredential:
    """The credential of the request's `Authorization: Bearer <token>`; GatewayError 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(
            401, "unauthenticated", "send Authorization: Bearer <token>", headers={"WWW-Authenticate": _CHALLENGE}
        )
    credential = producer_credential_get_by_token(token=token.strip())
    if credential is None:
        raise GatewayError(
            401,
            "invalid_token",
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
    return credential


def authorize(credential: ProducerCredential, event_type: str) -> None:
    if not credential.may_publish(event_type):
        raise GatewayError(403, "forbidden", f"credential {credential.name!r} may not publish {event_type}")


def authorize_events(credential: ProducerCredential, events: Sequence[Any]) -> None:
    """GatewayError 403 when any event names another producer, or a country the credential may not
    publish for; then none is written. The rest of an event's shape is validation's (422)."""
    refused = {index: errors for index, event in enumerate(events) if (errors := _identity_errors(credential, event))}
    if not refused:
        return
    outcomes = [
        EventOutcome(
            index,
            event_eid(event),
            EventStatus.FAILED if index in refused else EventStatus.ABORTED,
            refused.get(index, []),
        ).as_dict()
        for index, event in enumerate(events)
    ]
    message = (
        f"{len(refused)} of {len(events)} events are not credential {credential.name!r}'s to publish; none was written"
    )
    raise GatewayError(403, "forbidden", message, events=outcomes)


def _identity_errors(credential: ProducerCredential, event: Any) -> list[FieldError]:
    metadata = event.get("metadata") if type(event) is dict else None
    if type(metadata) is not dict:
        return []
    errors = []
    if "producer" in metadata and metadata["producer"] != credential.name:
        message = f"must be {credential.name!r}, the name of the token's credential"
        errors.append(FieldError("/metadata/producer", message))
    data = event.get("data")
    for path, where in (("/metadata/country", metadata), ("/data/country", data if type(data) is dict else {})):
        if "country" in where and not credential.may_publish_for(where["country"]):
            message = f"must be one of {', '.join(credential.countries)}: the credential's countries"
            errors.append(FieldError(path, message))
    return errors
