"""On-call endpoints: consumer lag in Burrow's v3 shape, commands waiting for responses, /metrics.

Consumer lag answers in Burrow's v3 shape, so Burrow's dashboards and alert scripts read it.

``GET /monitoring/lag/<group>`` answers like Burrow's ``/v3/kafka/<cluster>/consumer/<group>/lag``
(every partition); ``GET /monitoring/lag/`` lists every group with its status. Beyond Burrow's
fields, ``sampled_at`` (Unix ms) says when the picture was taken.

Every endpoint here but the admin's monitoring page takes a scrape token or a staff user with
events.view_monitoring (events.monitoring.access); a refusal is in the service's one error shape,
also on the Burrow-compatible endpoints, whose clients must send the token anyway.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import mark_safe
from prometheus_client.exposition import choose_encoder

from events.contracts.errors import FieldError, error_response
from events.contracts.query import QueryError, boolean, choice, integer, query_parse
from events.monitoring.access import ops_credential_required
from events.monitoring.charts import legend, line_chart_svg
from events.monitoring.collectors import metrics_registry
from events.monitoring.dashboard import dashboard_build
from events.monitoring.expectations import command_types
from events.monitoring.lag import Commit, GroupStatus, PartitionStatus
from events.monitoring.models import ResponseExpectation
from events.monitoring.selectors import expectations_waiting, lag_group_status, lag_snapshot

View = Callable[..., HttpResponse]


def _get_only(refuse: Callable[[HttpRequest], HttpResponse]) -> Callable[[View], View]:
    """Answers anything but GET and HEAD with `refuse`'s 405, which says Allow: GET, HEAD."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in {"GET", "HEAD"}:
                response = refuse(request)
                response["Allow"] = "GET, HEAD"
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _burrow_refusal(request: HttpRequest) -> HttpResponse:
    # The Burrow-compatible endpoints keep Burrow's envelope: the one documented exception to the
    # service's error shape (events.contracts.errors), for the tools that read Burrow.
    message = f"method {request.method} not allowed; use GET"
    return JsonResponse({"error": True, "message": message, "request": _request_info(request)}, status=405)


def _refusal(request: HttpRequest) -> HttpResponse:
    return error_response(405, "method_not_allowed", f"method {request.method} not allowed; use GET")


@ops_credential_required
@_get_only(_burrow_refusal)
def lag_list(request: HttpRequest) -> JsonResponse:
    snapshot = lag_snapshot()
    return JsonResponse(
        {
            "error": False,
            "message": "consumer group statuses returned",
            "consumers": [status.group for status in snapshot.statuses],
            "statuses": [_group_json(status) for status in snapshot.statuses],
            "sampled_at": snapshot.sampled_at_ms,
            "request": _request_info(request),
        }
    )


@ops_credential_required
@_get_only(_burrow_refusal)
def lag_detail(request: HttpRequest, group: str) -> JsonResponse:
    status = lag_group_status(group=group)
    if status is None:
        return JsonResponse(
            {
                "error": True,
                "message": "consumer group not found",
                "status": {
                    "cluster": settings.KAFKA_CLUSTER_NAME,
                    "group": group,
                    "status": "NOTFOUND",
                    "complete": 1.0,
                    "partitions": [],
                    "partition_count": 0,
                    "maxlag": None,
                    "totallag": 0,
                },
                "sampled_at": None,
                "request": _request_info(request),
            },
            status=404,
        )
    return JsonResponse(
        {
            "error": False,
            "message": "consumer status returned",
            "status": _group_json(status),
            "sampled_at": status.evaluated_at_ms,
            "request": _request_info(request),
        }
    )


def _group_json(status: GroupStatus) -> dict[str, Any]:
    return {
        "cluster": status.cluster,
        "group": status.group,
        "status": status.status,
        "complete": status.complete,
        "partitions": [_partition_json(partition) for partition in status.partitions],
        "partition_count": status.partition_count,
        "maxlag": None if status.maxlag is None else _partition_json(status.maxlag),
        "totallag": status.totallag,
    }


def _partition_json(partition: PartitionStatus) -> dict[str, Any]:
    return {
        "topic": partition.topic,
        "partition": partition.partition,
        "owner": partition.owner,
        "client_id": partition.client_id,
        "status": partition.status,
        "start": _offset_json(partition.start),
        "end": _offset_json(partition.end),
        "current_lag": partition.current_lag,
        "complete": partition.complete,
    }


def _offset_json(commit: Commit | None) -> dict[str, Any] | None:
    return (
        None
        if commit is None
        else {"offset": commit["offset"], "timestamp": commit["timestamp_ms"], "lag": commit["lag"]}
    )


def _request_info(request: HttpRequest) -> dict[str, str]:
    return {"url": request.path, "host": socket.gethostname()}


# --- responses to commands -------------------------------------------------------------------------

RESPONSES_DEFAULT_LIMIT = 100
RESPONSES_MAX_LIMIT = 1000


@ops_credential_required
@_get_only(_refusal)
def responses_list(request: HttpRequest) -> JsonResponse:
    """Commands waiting for their response, most overdue first.

    ``overdue=1`` only those past their deadline, ``overdue=0`` only those still in time (both open);
    ``command_type`` one command type; ``limit`` 1..1000 (100). Anything else is a 400 naming it.
    """
    try:
        query = query_parse(
            request.GET,
            {
                "overdue": boolean(),
                "command_type": choice(command_types()),
                "limit": integer(1, RESPONSES_MAX_LIMIT, default=RESPONSES_DEFAULT_LIMIT),
            },
        )
    except QueryError as exc:
        return _invalid_query_response(exc.errors)
    now = timezone.now()
    expectations, total = expectations_waiting(
        now=now, overdue=query["overdue"], command_type=query["command_type"], limit=query["limit"]
    )
    return JsonResponse(
        {
            "error": False,
            "now": now.isoformat(),
            "filters": {"overdue": query["overdue"], "command_type": query["command_type"]},
            "count": total,
            "limit": query["limit"],
            "responses": [_expectation_json(expectation, now) for expectation in expectations],
        }
    )


def _invalid_query_response(errors: list[FieldError]) -> HttpResponse:
    return error_response(400, "invalid_query", "the query parameters are not valid", errors)


def _expectation_json(expectation: ResponseExpectation, now: datetime) -> dict[str, Any]:
    late = (now - expectation.deadline).total_seconds()
    return {
        "command_eid": str(expectation.command_eid),
        "command_type": expectation.command_type,
        "response_type": expectation.response_type,
        "correlation": {"field": expectation.correlation_field, "value": expectation.correlation_value}
        if expectation.correlation_field
        else None,
        "key": expectation.key,
        "country": expectation.country,
        "sent_at": expectation.sent_at.isoformat(),
        "deadline": expectation.deadline.isoformat(),
        "overdue": late > 0,
        "overdue_seconds": round(max(late, 0.0), 3),
        "reported_overdue_at": expectation.overdue_at.isoformat() if expectation.overdue_at else None,
    }


# --- /metrics -----------------------------------------------------------------------------------------


@ops_credential_required
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text (or OpenMetrics when asked) of every process, and the scrape-time figures."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics_registry()), content_type=content_type)


# --- the monitoring page (admin) -------------------------------------------------------------------

DASHBOARD_RANGES = {name: timedelta(hours=int(name[:-1])) for name in ("1h", "6h", "24h", "48h")}
DASHBOARD_DEFAULT_RANGE = "6h"


def dashboard(request: HttpRequest) -> HttpResponse:
    """Charts and tiles the apps register; staff only (the URL wraps it in admin_view)."""
    try:
        query = query_parse(request.GET, {"range": choice(DASHBOARD_RANGES, default=DASHBOARD_DEFAULT_RANGE)})
    except QueryError as exc:
        return _invalid_query_response(exc.errors)
    range_name = query["range"]
    until = timezone.now()
    since = until - DASHBOARD_RANGES[range_name]
    built = dashboard_build(since=since, until=until)
    panels = [
        {
            "name": panel.name,
            "chart": panel.chart,
            "error": panel.error,
            "svg": mark_safe(line_chart_svg(panel.chart, since=since, until=until)) if panel.chart else "",  # noqa: S308 - built from escaped parts
            "legend": legend(panel.chart) if panel.chart else [],
        }
        for panel in built.panels
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Monitoring",
        "tiles": built.tiles,
        "panels": panels,
        "ranges": list(DASHBOARD_RANGES),
        "range": range_name,
        "since": since,
        "until": until,
    }
    return TemplateResponse(request, "admin/monitoring/dashboard.html", context)
