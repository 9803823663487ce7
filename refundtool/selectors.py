"""Reads of refunds for entry points (consumers, admin, API)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from refundtool.exceptions import RefundNotFoundError
from refundtool.models import Refund, RefundTransition


def refund_get(*, refund_id: UUID) -> Refund:
    try:
        return Refund.objects.get(pk=refund_id)
    except Refund.DoesNotExist:
        raise RefundNotFoundError(f"refund {refund_id} does not exist") from None


def refund_get_by_request_id(*, refund_request_id: UUID) -> Refund:
    """The refund BOB asked for with this refund_request_id (bob.refund_cancelled names it so)."""
    try:
        return Refund.objects.get(refund_request_id=refund_request_id)
    except Refund.DoesNotExist:
        raise RefundNotFoundError(f"no refund was requested with refund_request_id {refund_request_id}") from None


def refund_history(*, refund_id: UUID) -> QuerySet[RefundTransition]:
    """The refund's audit rows, oldest first."""
    return RefundTransition.objects.filter(refund_id=refund_id).order_by("sequence")
