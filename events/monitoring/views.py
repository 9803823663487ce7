"""Consumer lag over HTTP in Burrow's v3 shape, so Burrow's dashboards and alert scripts read it.

``GET /monitoring/lag/<group>`` answers like Burrow's ``/v3/kafka/<cluster>/consumer/<group>/lag``
(every partition); ``GET /monitoring/lag/`` lists every group with its status. Both are open like
/metrics, which carries the same figures. Beyond Burrow's fields, ``sampled_at`` (Unix ms) says
when the picture was taken.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from events.lag import Commit, GroupStatus, PartitionStatus
from events.monitoring.selectors import lag_group_status, lag_snapshot

View = Callable[..., JsonResponse]


def _get_only(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method not in {"GET", "HEAD"}:
            response = JsonResponse(
                {
                    "error": True,
                    "message": f"method {request.method} not allowed; use GET",
                    "request": _request_info(request),
                },
                status=405,
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapper


@_get_only
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


@_get_only
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
