"""Refunds in the states support meets, made through the services, then aged where a test needs it."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from refundtool.models import Refund
from refundtool.services import refund_flag_needs_attention
from tests.domain.factories import SUPPORT, new_refund, pay, receipt

_numbers = itertools.count(1)


def make_refund(state: str = "ready_to_refund", country: str = "RU", **overrides: Any) -> Refund:
    """A refund in `state`: ready_to_refund, payment_failed, refunded, completed, fiscal_failed, needs_attention."""
    overrides.setdefault("order_number", f"{country}-{700000 + next(_numbers)}")
    refund = new_refund(country, **overrides)
    if state == "payment_failed":
        refund = pay(refund, succeeded=False, failure_reason="card expired", at=timezone.now())
    elif state in ("refunded", "completed", "fiscal_failed"):
        refund = pay(refund, transaction_id=f"tx-{refund.order_number}", at=timezone.now())
        if state == "completed" and country == "RU":
            refund = receipt(refund, document=refund.order_number[-6:])
        elif state == "fiscal_failed":
            refund = receipt(refund, succeeded=False, reason="provider said no")
    elif state == "needs_attention":
        refund = refund_flag_needs_attention(refund_id=refund.id, reason="customer called", actor=SUPPORT)
    assert refund.status == (state if not (state == "refunded" and country != "RU") else "completed")
    return refund


def age(refund: Refund, **ago: timedelta) -> Refund:
    """Moves the refund's clocks back: age(refund, status_changed_at=timedelta(hours=2), refunded_at=...)."""
    now = timezone.now()
    Refund.objects.filter(pk=refund.pk).update(**{name: now - delta for name, delta in ago.items()})
    refund.refresh_from_db()
    return refund
