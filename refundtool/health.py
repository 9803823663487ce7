"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer."""

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
        raise FileNotFoundError(settings.CELERY_QUEUE_DIR)
    return "filesystem transport"


def _broker() -> str:
    return f"{broker_check()} broker(s) at {settings.KAFKA_BOOTSTRAP_SERVERS}"


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
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return CheckResult(name, ok, round((time.perf_counter() - started) * 1000, 2), detail)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = [run_check(name, check) for name, check in readiness_checks().items()]
    ready = all(result.ok for result in results)
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {
            r.name: {"status": "ok" if r.ok else "fail", "latency_ms": r.latency_ms, "detail": r.detail}
            for r in results
        },
    }
    return JsonResponse(body, status=200 if ready else 503)
