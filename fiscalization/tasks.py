"""Celery entry points of fiscalization: each takes an id, calls one service and declares its retries.

All run on the ``fiscal`` queue (settings.CELERY_TASK_ROUTES) with late acknowledgement, so a worker
that dies mid-task leaves the message to be delivered again; the services are idempotent for that.
A provider that is unavailable is retried with exponential backoff (1, 2, 4 ... s, at most
FISCAL_RETRY_BACKOFF_MAX_SECONDS) and full jitter, without a limit: a receipt is owed until it is
registered, and the SLA sweep makes a long outage visible.
"""

from __future__ import annotations

from dataclasses import asdict
from uuid import UUID

from celery import shared_task
from django.conf import settings

from fiscalization import services
from fiscalization.provider import ProviderUnavailable

PROVIDER_RETRIES = {
    "autoretry_for": (ProviderUnavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": settings.FISCAL_RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": None,
}


@shared_task(name="fiscalization.register_receipt", acks_late=True, **PROVIDER_RETRIES)
def register_receipt(receipt_id: int) -> None:
    services.receipt_register(receipt_id=receipt_id)


@shared_task(name="fiscalization.poll_receipt", acks_late=True, **PROVIDER_RETRIES)
def poll_receipt(receipt_id: int) -> None:
    services.receipt_poll(receipt_id=receipt_id)


@shared_task(name="fiscalization.settle_refund", acks_late=True)
def settle_refund(refund_id: str) -> None:
    services.refund_fiscal_settle(refund_id=UUID(refund_id))


@shared_task(name="fiscalization.sweep_receipts", acks_late=True)
def sweep_receipts() -> dict[str, int]:
    return asdict(services.receipts_sweep())
