"""HTTP entry points of the gateway: parse the request, call one service or selector, format the answer."""

from __future__ import annotations

import time
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from events.contracts.errors import JSON_CONTENT_TYPE, error_response, json_response
from events.contracts.query import QueryError, integer, query_parse
from events.contracts.specification import UnknownEventType, get_event_spec
from events.gateway import selectors
from events.gateway.auth import authenticate, authorize, authorize_events
from events.gateway.errors import GatewayError
from events.gateway.metrics import GATEWAY_REQUEST_SECONDS, GATEWAY_REQUESTS
from events.gateway.services import (
    BrokerUnavailableError,
    EventsNotWrittenError,
    EventsRejectedError,
    EventStatus,
    events_publish,
)
from events.gateway.throttling import credential_throttle

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 1000
MAX_VERSION = 10_000  # the largest version number a schema request may name


@csrf_exempt
def publish_events(request: HttpRequest, event_type: str) -> HttpResponse:
    """POST one event or a JSON array of events of `event_type`: all are written, or none."""
    started = time.perf_counter()
    response = _publish(request, event_type)
    GATEWAY_REQUESTS.labels(_metric_label(event_type), str(response.status_code)).inc()
    GATEWAY_REQUEST_SECONDS.observe(time.perf_counter() - started)
    return response


def _publish(request: HttpRequest, event_type: str) -> HttpResponse:
    try:
        if request.method != "POST":
            raise GatewayError(405, "method_not_allowed", "use POST", headers={"Allow": "POST"})
        credential = authenticate(request)
        credential_throttle(credential)
        _known(event_type)
        authorize(credential, event_type)
        events = _parse_events(request)
        authorize_events(credential, events)
        try:
            written = events_publish(event_type=event_type, events=events, producer_name=credential.name)
        except EventsNotWrittenError as exc:
            raise _not_written_error(exc) from None
    except GatewayError as error:
        return error.response()
    return json_response(written)


def _not_written_error(exc: EventsNotWrittenError) -> GatewayError:
    events = [outcome.as_dict() for outcome in exc.outcomes]
    if isinstance(exc, EventsRejectedError):
        failed = sum(outcome.status is EventStatus.FAILED for outcome in exc.outcomes)
        message = f"{failed} of {len(events)} events are invalid; none was written"
        return GatewayError(422, "invalid_events", message, events=events)
    if isinstance(exc, BrokerUnavailableError):
        message = "the broker took none of the events; retry with the same eids"
        return GatewayError(503, "broker_unavailable", message, events=events, headers={"Retry-After": "5"})
    submitted = sum(outcome.status is EventStatus.SUBMITTED for outcome in exc.outcomes)
    message = f"{submitted} of {len(events)} events were written; retry the failed ones with the same eids"
    return GatewayError(207, "partially_written", message, events=events)


@require_GET
def event_type_list(request: HttpRequest) -> HttpResponse:
    event_types = selectors.event_type_list()
    for item in event_types:
        path = reverse("events_gateway:event-type-schema", args=[item["name"]])
        item["schema_url"] = f"{path}?version={item['version']}"
    return json_response(event_types)


@require_GET
def event_type_schema(request: HttpRequest, event_type: str) -> HttpResponse:
    try:
        query = query_parse(request.GET, {"version": integer(1, MAX_VERSION)})
        body = selectors.event_type_schema_json(event_type, query["version"])
    except QueryError as exc:
        return error_response(400, "invalid_query", "the query parameters are not valid", exc.errors)
    except UnknownEventType as exc:
        return error_response(404, "unknown_event_type", str(exc))
    return HttpResponse(body, content_type="application/schema+json")


@require_GET
def asyncapi(request: HttpRequest) -> HttpResponse:
    return HttpResponse(selectors.asyncapi_json(), content_type=JSON_CONTENT_TYPE)


def _known(event_type: str) -> None:
    try:
        get_event_spec(event_type)
    except UnknownEventType as exc:
        raise GatewayError(404, "unknown_event_type", str(exc)) from None


def _metric_label(event_type: str) -> str:
    """The event type, or "unknown" for one not in the specification: the path is the producer's to choose."""
    try:
        get_event_spec(event_type)
    except UnknownEventType:
        return "unknown"
    return event_type


def _parse_events(request: HttpRequest) -> list[Any]:
    charset = (request.encoding or "utf-8").lower()
    if request.content_type != JSON_CONTENT_TYPE or charset not in ("utf-8", "utf8"):
        raise GatewayError(415, "unsupported_media_type", "send Content-Type: application/json (UTF-8)")
    too_large = GatewayError(413, "payload_too_large", f"a request may carry at most {MAX_BODY_BYTES} bytes")
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise too_large
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if isinstance(parsed, dict):
        return [parsed]
    if not isinstance(parsed, list):
        raise GatewayError(400, "malformed_request", "the body must be an event object or an array of events")
    if not parsed:
        raise GatewayError(400, "malformed_request", "the array has no events")
    if len(parsed) > MAX_EVENTS:
        raise GatewayError(413, "too_many_events", f"a request may carry at most {MAX_EVENTS} events")
    return parsed
