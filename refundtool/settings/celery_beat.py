"""Celery: the broker (Redis, or kombu's filesystem transport under REFUNDTOOL_VAR_DIR), the queues,
and beat's whole schedule in one literal."""

from __future__ import annotations

from refundtool.settings.base import REDIS_URL, REFUNDTOOL_VAR_DIR
from refundtool.settings.fiscal import FISCAL_SWEEP_INTERVAL_SECONDS
from refundtool.settings.kafka_events import (
    LAG_SAMPLE_INTERVAL_SECONDS,
    REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS,
    REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS,
)

# Without Redis, local processes share a queue in folders (refundtool/local_state.py makes them).
CELERY_QUEUE_DIR = REFUNDTOOL_VAR_DIR / "celery"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {"visibility_timeout": 3600}
    if REDIS_URL
    else {
        "data_folder_in": str(CELERY_QUEUE_DIR / "in"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "in"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
)
# A worker or beat started while Redis is down, or that loses it, waits for it for as long as it takes
# (Celery's default gives up after 100 attempts and exits); refundtool.outage_logs keeps it to one line.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis through kombu's transport with a race closed that made the worker exit (refundtool/celery_redis.py).
CELERY_BROKER_TRANSPORT = "refundtool.celery_redis:Transport" if REDIS_URL else None
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Tasks carry ids, as JSON; a worker never unpickles what the queue holds (Celery's default, said
# where a reader of the settings looks for it).
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {"fiscalization.*": {"queue": "fiscal"}}


def _every(seconds: float, *, expires: bool = True) -> dict[str, object]:
    # A periodic pass queued behind a stopped worker is stale by the time the next one is due.
    return {"schedule": float(seconds), **({"options": {"expires": seconds}} if expires else {})}


CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sample-consumer-lag": {"task": "events.sample_consumer_lag", **_every(LAG_SAMPLE_INTERVAL_SECONDS)},
    "prune-inbox": {"task": "events.prune_inbox", **_every(3600)},
    "fiscal-sweep": {"task": "fiscalization.sweep_receipts", **_every(FISCAL_SWEEP_INTERVAL_SECONDS, expires=False)},
    "check-response-expectations": {
        "task": "events.check_response_expectations",
        **_every(REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS),
    },
    "flag-stuck-refunds": {
        "task": "refundtool.flag_stuck_refunds",
        **_every(REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS),
    },
    "record-refund-states": {
        "task": "refundtool.record_refund_states",
        **_every(REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS),
    },
    "record-lag-history": {
        "task": "events.record_lag_history",
        **_every(REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS),
    },
}
