"""How refunds react to what on-call monitoring finds: flags, not state changes.

A refund stuck in a state, or whose item_ready_to_refund Payment has not answered by the deadline,
gets a flag (events.monitoring.models.Flag, subject "refund") that support sees in the admin. The
refund itself does not change: no transition, no refund.update, nothing for support to undo.
Moving it to needs_attention instead would stop the automatic flow for everyone downstream: a late
Payment answer would only be noted (so in RU no fiscal receipt would go out until support resolved
it, against 54-FZ's "at the moment of the refund"), and a Payment outage of a few minutes would park
every refund in it for manual work. A flag is cleared by the next check that finds its condition
gone: the refund moved on, or Payment answered.

Kinds: ``stuck_in_<state>`` (one per state, so a refund that moves from one stuck state to another
gets a new flag), ``payment_unanswered``, and ``outbox_parked`` (an event of the refund that the broker
refused for good waits for an operator, and so do its later events).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils import timezone

from events.messaging.parking import outbox_parked
from events.monitoring.flags import flags_clear, flags_raise
from events.monitoring.history import samples_record
from events.monitoring.models import ResponseExpectation, Sample
from refundtool.selectors import REFUND_FLAG_SUBJECT, refund_counts_by_status, refunds_stuck
from refundtool.states import ITEM_READY_TO_REFUND, TERMINAL_STATUSES, RefundStatus

logger = logging.getLogger(__name__)

SUBJECT = REFUND_FLAG_SUBJECT
PAYMENT_UNANSWERED = "payment_unanswered"
OUTBOX_PARKED = "outbox_parked"
REFUND_STATES_SERIES = "refunds_in_state"
# The states a refund passes through or waits in; completed and cancelled only ever grow.
OPEN_STATUSES = [status.value for status in RefundStatus if status not in TERMINAL_STATUSES]


def stuck_kind(status: str) -> str:
    return f"stuck_in_{status}"


@dataclass(frozen=True, slots=True)
class FlagRefresh:
    raised: int
    cleared: int


def refund_flags_refresh(*, now: datetime | None = None) -> FlagRefresh:
    """The periodic check of refunds: flags every stuck refund not flagged yet, and clears the flags
    whose condition is gone (no longer stuck in that state; Payment answered)."""
    now = now or timezone.now()
    raised = cleared = 0
    stuck = refunds_stuck(now=now)
    for status, seconds in settings.REFUNDTOOL_STUCK_AFTER_SECONDS.items():
        in_state = stuck.filter(status=status)
        details = {
            str(refund_id): f"{status} since {changed_at:%Y-%m-%d %H:%M:%S} UTC, longer than its limit of {seconds} s"
            for refund_id, changed_at in in_state.values_list("id", "status_changed_at")
        }
        raised += flags_raise(subject_type=SUBJECT, kind=stuck_kind(status), details=details, now=now)
        cleared += flags_clear(
            subject_type=SUBJECT,
            kind=stuck_kind(status),
            still_holding=in_state.annotate(refund_id=Cast("id", CharField())).values("refund_id"),
            reason=f"no longer {status} past its limit",
            now=now,
        )
    # Limits may change between deployments: a state without one any more holds no stuck refund.
    for status in set(OPEN_STATUSES) - set(settings.REFUNDTOOL_STUCK_AFTER_SECONDS):
        cleared += flags_clear(
            subject_type=SUBJECT, kind=stuck_kind(status), still_holding=[], reason="no limit for the state", now=now
        )
    cleared += flags_clear(
        subject_type=SUBJECT,
        kind=PAYMENT_UNANSWERED,
        still_holding=ResponseExpectation.objects.filter(
            command_type=ITEM_READY_TO_REFUND, answered_at__isnull=True, deadline__lt=now
        ).values("correlation_value"),
        reason="Payment answered",
        now=now,
    )
    if raised:
        logger.warning("flagged %d stuck refund(s)", raised)
    return FlagRefresh(raised=raised, cleared=cleared)


def refund_states_record(*, now: datetime | None = None) -> list[Sample]:
    """Records how many refunds are in each open state now: the history of the monitoring page."""
    counts = refund_counts_by_status(statuses=OPEN_STATUSES)
    return samples_record(series=REFUND_STATES_SERIES, values=counts, at=now or timezone.now())


def flag_unanswered_payments(sender: Any, *, expectations: Sequence[ResponseExpectation], **kwargs: Any) -> None:
    """events.monitoring.expectations.expectation_overdue: flags the refund of every overdue item_ready_to_refund."""
    details = {
        expectation.correlation_value: (
            f"Payment has not answered item_ready_to_refund {expectation.command_eid}, sent "
            f"{expectation.sent_at:%Y-%m-%d %H:%M:%S} UTC, due by {expectation.deadline:%H:%M:%S} UTC"
        )
        for expectation in expectations
        if expectation.command_type == ITEM_READY_TO_REFUND and expectation.correlation_field == "refund_id"
    }
    flags_raise(subject_type=SUBJECT, kind=PAYMENT_UNANSWERED, details=details)


def flag_parked_outbox_rows() -> None:
    """events.messaging.hooks.outbox_parked_changed: a refund with a parked event is flagged, and its flag
    is cleared once no event of it is parked any more (retried or skipped)."""
    details: dict[str, str] = {}
    for row in outbox_parked():
        refund_id = row.message.get("data", {}).get("refund_id")
        if refund_id and refund_id not in details:
            details[refund_id] = f"{row.event_type} {row.eid} refused by the broker for good: {row.last_error[:300]}"
    flags_raise(subject_type=SUBJECT, kind=OUTBOX_PARKED, details=details)
    flags_clear(
        subject_type=SUBJECT, kind=OUTBOX_PARKED, still_holding=list(details), reason="its parked events were released"
    )
