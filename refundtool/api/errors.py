"""refundtool's API errors (REST API, reports) in the service's one error shape, events.contracts.errors:

{"error": {"code": "snake_case", "message": "for a human", "details": [{"path": "/field", "message": "..."}]}}
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from events.contracts.errors import FieldError, error_body
from events.contracts.query import QueryError
from refundtool.exceptions import IllegalTransitionError, RefundError, RefundNotFoundError, ValidationError

API_PREFIX = "/api/"
DATABASE_RETRY_AFTER_SECONDS = 5


class ApiError(exceptions.APIException):
    """An error a view raises with its own code and details."""

    def __init__(self, status_code: int, code: str, message: str, details: Sequence[FieldError] = ()) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.error_code = code
        self.details = list(details)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF and domain errors in the one shape; anything else stays a 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, QueryError):
        exc = ApiError(400, "invalid_query", "the query parameters are not valid", exc.errors)
    elif isinstance(exc, RefundNotFoundError):
        exc = ApiError(404, "not_found", str(exc))
    elif isinstance(exc, ValidationError):
        exc = ApiError(400, "invalid", str(exc), exc.errors)
    elif isinstance(exc, IllegalTransitionError):
        exc = ApiError(409, "illegal_transition", str(exc))
    elif isinstance(exc, RefundError):
        exc = ApiError(409, "conflict", str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, str(exc.detail), exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", "the request is not valid", list(_field_errors(exc.detail)))
    elif isinstance(exc, exceptions.APIException):
        response.data = error_body(_code(exc), str(exc.detail))
    return response


def _field_errors(detail: Any, path: str = "") -> list[FieldError]:
    if isinstance(detail, Mapping):
        return [error for key, value in detail.items() for error in _field_errors(value, f"{path}/{key}")]
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [FieldError(path or "/", str(item)) for item in detail]
        return [error for index, item in enumerate(detail) for error in _field_errors(item, f"{path}/{index}")]
    return [FieldError(path or "/", str(detail))]


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Any path under /api/ that no route serves."""
    return JsonResponse(error_body("not_found", f"nothing is served at {request.path}"), status=404)


def server_error(request: HttpRequest) -> Any:
    """handler500: the error shape under /api/, Django's page elsewhere.

    A database that does not answer is an outage, not a fault of the request or of the code: 503 with
    Retry-After, so a producer or a script tries again instead of giving up on a 500. Django calls
    this inside the except block of the request's exception, which sys.exc_info() then names.
    """
    unavailable = isinstance(sys.exc_info()[1], OperationalError | InterfaceError)
    if unavailable:
        message = "the database is not available; retry in a few seconds"
        if request.path.startswith(API_PREFIX):
            response: Any = JsonResponse(error_body("database_unavailable", message), status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith(API_PREFIX):
        body = error_body("internal_error", "the server failed; the error is logged")
        return JsonResponse(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
