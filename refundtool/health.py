"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer.

Both are open: a load balancer or an orchestrator asks them without a credential. /readyz tells such
a caller only ok or not (200 or 503); which dependency failed, per check, goes only to an ops
credential (events.monitoring.access). Even then a check says only the dependency and the class of
its error: broker addresses and a database's own error text stay out of every answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from events.messaging.kafka import broker_check
from events.monitoring.access import has_ops_credential


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    detail: str


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ping"


def _celery_filesystem_queue() -> str:
    if not settings.CELERY_QUEUE_DIR.is_dir():
        raise FileNotFoundError("the queue directory is missing")
    return "filesystem transport"


def _broker() -> str:
    return f"{broker_check()} broker(s)"


def readiness_checks() -> dict[str, Callable[[], str]]:
    checks: dict[str, Callable[[], str]] = {"database": _database, "broker": _broker}
    if settings.REDIS_URL:
        checks["redis"] = _redis
    else:
        checks["celery_queue"] = _celery_filesystem_queue
    return checks


def run_check(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency makes it "not ready"
        # The class only: the text of a driver's error can carry addresses, user names or paths.
        detail, ok = type(exc).__name__, False
    return CheckResult(name, ok, round((time.perf_counter() - started) * 1000, 2), detail)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = [run_check(name, check) for name, check in readiness_checks().items()]
    ready = all(result.ok for result in results)
    body: dict[str, object] = {"status": "ok" if ready else "unavailable"}
    if has_ops_credential(request):
        body["checks"] = {
            r.name: {"status": "ok" if r.ok else "fail", "latency_ms": r.latency_ms, "detail": r.detail}
            for r in results
        }
    return JsonResponse(body, status=200 if ready else 503)
