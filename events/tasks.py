"""Celery entry points of the events infrastructure."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from events.monitoring.services import lag_sample


# No retries: beat runs the next pass within LAG_SAMPLE_INTERVAL_SECONDS, which is the retry.
@shared_task(name="events.sample_consumer_lag", max_retries=0)
def sample_consumer_lag() -> None:
    lag_sample(timeout_seconds=min(10.0, float(settings.LAG_SAMPLE_INTERVAL_SECONDS)))
