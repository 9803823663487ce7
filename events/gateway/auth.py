"""Bearer-token authentication of producers, and which event types each may publish."""

from __future__ import annotations

from django.http import HttpRequest

from events.gateway.errors import GatewayError
from events.gateway.models import ProducerCredential
from events.gateway.selectors import producer_credential_get_by_token

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
