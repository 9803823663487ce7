"""Celery entry points of fiscalization: each takes an id, calls one service and declares its retries.

All run on the ``fiscal`` queue (settings.CELERY_TASK_ROUTES) with late acknowledgement, so a worker
that dies mid-task leaves the message to be delivered again; the services are idempotent for that.

A provider that is unavailable (``ProviderUnavailable``), or a database that is (an ``OperationalError``
or ``InterfaceError`` of the connection), is retried without a limit: a receipt is owed until it is
registered, and the SLA sweep makes a long outage visible. The delay grows
exponentially from 0.1-0.2 s up to FISCAL_RETRY_BACKOFF_MAX_SECONDS, with "equal jitter" (half
fixed, half random) so that retries after an outage do not arrive together. Celery's own
``retry_backoff`` only jitters in whole seconds, too coarse for a two-minute SLA.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from uuid import UUID

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from fiscalization import services
from fiscalization.provider import ProviderUnavailable

FIRST_RETRY_SECONDS = 0.2
# What a task waits out rather than fails on: nothing about the receipt is wrong, a dependency is away.
UNAVAILABLE = (ProviderUnavailable, OperationalError, InterfaceError)


def provider_backoff(retries: int) -> float:
    """Seconds before retry number ``retries`` + 1: 0.1-0.2, 0.2-0.4, 0.4-0.8 ... up to the configured maximum."""
    ceiling = min(float(settings.FISCAL_RETRY_BACKOFF_MAX_SECONDS), FIRST_RETRY_SECONDS * 2**retries)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@shared_task(bind=True, name=services.REGISTER_RECEIPT_TASK, acks_late=True, max_retries=None)
def register_receipt(self: Task, receipt_id: int) -> None:
    try:
        services.receipt_register(receipt_id=receipt_id)
    except UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=provider_backoff(self.request.retries)) from exc


@shared_task(bind=True, name=services.POLL_RECEIPT_TASK, acks_late=True, max_retries=None)
def poll_receipt(self: Task, receipt_id: int) -> None:
    try:
        services.receipt_poll(receipt_id=receipt_id)
    except UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=provider_backoff(self.request.retries)) from exc


@shared_task(bind=True, name=services.REGISTER_CORRECTION_TASK, acks_late=True, max_retries=None)
def register_correction(self: Task, correction_id: int) -> None:
    try:
        services.correction_register(correction_id=correction_id)
    except UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=provider_backoff(self.request.retries)) from exc


@shared_task(bind=True, name=services.POLL_CORRECTION_TASK, acks_late=True, max_retries=None)
def poll_correction(self: Task, correction_id: int) -> None:
    try:
        services.correction_poll(correction_id=correction_id)
    except UNAVAILABLE as exc:
        raise self.retry(exc=exc, countdown=provider_backoff(self.request.retries)) from exc


@shared_task(bind=True, name=services.SETTLE_REFUND_TASK, acks_late=True, max_retries=None)
def settle_refund(self: Task, refund_id: str) -> None:
    try:
        services.refund_fiscal_settle(refund_id=UUID(refund_id))
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=provider_backoff(self.request.retries)) from exc


@shared_task(name=services.SWEEP_RECEIPTS_TASK, acks_late=True)
def sweep_receipts() -> dict[str, int]:
    return asdict(services.receipts_sweep())
