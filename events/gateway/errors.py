"""The one error shape of every gateway response that is not a plain success."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from django.http import HttpResponse

from events.errors import FieldError

JSON_CONTENT_TYPE = "application/json"


class GatewayError(Exception):
    """A request the gateway refuses; answered with status_response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: Sequence[FieldError] = (),
        events: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors)
        self.events = list(events)
        self.headers = dict(headers or {})

    def response(self) -> HttpResponse:
        return status_response(
            self.status, self.code, self.message, errors=self.errors, events=self.events, headers=self.headers
        )


def status_response(
    status: int,
    code: str,
    message: str,
    *,
    errors: Sequence[FieldError] = (),
    events: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Every answer but a plain success: {"code", "message", "errors": [{path, message}], "events": [...]}."""
    body = {"code": code, "message": message, "errors": [error.as_dict() for error in errors], "events": list(events)}
    return json_response(body, status=status, headers=headers)


def json_response(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), status=status, content_type=JSON_CONTENT_TYPE, headers=headers)
