"""Celery entry points of the messaging runtime.

The periodic ones declare no retries: beat runs the next pass within its interval, which is the retry.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from events.messaging.inbox import inbox_prune


@shared_task(name="events.prune_inbox", max_retries=0)
def prune_inbox() -> int:
    return inbox_prune(received_before=timezone.now() - timedelta(hours=settings.REFUNDTOOL_INBOX_RETENTION_HOURS))
