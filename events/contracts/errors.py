"""The one shape of every JSON error the service serves, and of a validation error inside it.

    {"error": {"code": "snake_case", "message": "for a human", "details": [{"path": "...", "message": "..."}]}}

- `details` lists FieldErrors: `path` is a JSON pointer into what was sent (/data/items/0/quantity,
  /amount) or /query/<name> for a query parameter (events.contracts.query reads those).
- An endpoint may add members beside `details`; the events-bus gateway adds `events`, its outcome
  for each event of the request.
- The one documented exception: the Burrow-compatible lag endpoints (/monitoring/lag/...) answer
  in Burrow's own envelope, as the tools that read Burrow expect.

The REST API, reports, the fiscal API, monitoring and the gateway build their errors here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.http import HttpResponse

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  # a JSON pointer into the whole message, e.g. "/data/items/0/quantity", or "/query/<name>"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def error_body(code: str, message: str, details: Sequence[FieldError] = (), **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [d.as_dict() for d in details], **extra}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[FieldError] = (),
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    return json_response(error_body(code, message, details, **extra), status=status, headers=headers)


def json_response(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), status=status, content_type=JSON_CONTENT_TYPE, headers=headers)
