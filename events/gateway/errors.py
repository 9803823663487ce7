"""The gateway's refusals, answered in the service's one error shape (events.contracts.errors) with the
gateway's outcome of each event of the request beside the details:

    {"error": {"code", "message", "details": [{path, message}], "events": [{index, eid, status, ...}]}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpResponse

from events.contracts.errors import FieldError, error_response


class GatewayError(Exception):
    """A request the gateway refuses; answered with response()."""

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
        return error_response(
            self.status, self.code, self.message, self.errors, headers=self.headers, events=self.events
        )
