"""The one error shape of every gateway response that is not a plain success."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from django.http import HttpResponse

from events.errors import FieldError

JSON_CONTENT_TYPE = "application/json"


class GatewayError(Exception):
    """Answered as {"code", "message", "errors": [{path, message}], "events": [per-event status]}."""

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
        body = {
            "code": self.code,
            "message": self.message,
            "errors": [error.as_dict() for error in self.errors],
            "events": self.events,
        }
        return json_response(body, status=self.status, headers=self.headers)


def json_response(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), status=status, content_type=JSON_CONTENT_TYPE, headers=headers)
