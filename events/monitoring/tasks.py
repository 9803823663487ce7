"""Celery entry points of monitoring: lag samples, response expectations, the charts' history.

The periodic ones declare no retries: beat runs the next pass within its interval, which is the retry.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from events.monitoring.expectations import expectations_check
from events.monitoring.history import lag_history_record
from events.monitoring.services import lag_sample


@shared_task(name="events.sample_consumer_lag", max_retries=0)
def sample_consumer_lag() -> None:
    lag_sample(timeout_seconds=min(10.0, float(settings.LAG_SAMPLE_INTERVAL_SECONDS)))


@shared_task(name="events.check_response_expectations", max_retries=0)
def check_response_expectations() -> dict[str, int]:
    result = expectations_check()
    return {"newly_overdue": result.newly_overdue, "pruned": result.pruned}


@shared_task(name="events.record_lag_history", max_retries=0)
def record_lag_history() -> int:
    return len(lag_history_record())
