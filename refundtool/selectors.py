"""Reads of refunds for entry points (consumers, admin, API)."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import reduce
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Q, QuerySet

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


# --- on-call monitoring: stuck refunds --------------------------------------------------------------


def refunds_stuck_filter(*, now: datetime) -> Q:
    """Refunds in a state for longer than settings.REFUNDTOOL_STUCK_AFTER_SECONDS allows it.

    One (status, status_changed_at) range per state, so each arm reads refund_status_since_idx.
    Completed and cancelled have no limit, so they are never stuck.
    """
    return reduce(
        operator.or_,
        (
            Q(status=status, status_changed_at__lt=now - timedelta(seconds=seconds))
            for status, seconds in settings.REFUNDTOOL_STUCK_AFTER_SECONDS.items()
        ),
    )


def refunds_stuck(*, now: datetime) -> QuerySet[Refund]:
    """The stuck refunds: what the admin's "stuck" filter, the beat task and the metric all count."""
    return Refund.objects.filter(refunds_stuck_filter(now=now))


def refund_is_stuck(refund: Refund, *, now: datetime) -> bool:
    seconds = settings.REFUNDTOOL_STUCK_AFTER_SECONDS.get(refund.status)
    return seconds is not None and now - refund.status_changed_at > timedelta(seconds=seconds)


def refunds_stuck_counts(*, now: datetime) -> dict[str, int]:
    """Stuck refunds per state that has a limit, zeros included."""
    counts = dict.fromkeys(settings.REFUNDTOOL_STUCK_AFTER_SECONDS, 0)
    for status, count in refunds_stuck(now=now).values_list("status").annotate(count=Count("id")).order_by():
        counts[status] = count
    return counts


def refund_counts_by_status(*, statuses: Iterable[str]) -> dict[str, int]:
    """How many refunds are in each of `statuses` now, zeros included (reads refund_status_since_idx)."""
    counts = dict.fromkeys(statuses, 0)
    for status, count in (
        Refund.objects.filter(status__in=list(counts)).values_list("status").annotate(count=Count("id")).order_by()
    ):
        counts[status] = count
    return counts
