"""Reads of refunds for entry points (consumers, admin, API)."""

from __future__ import annotations

import base64
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from uuid import UUID

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, UUIDField
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from events.messaging.models import InboxMessage, OutboxMessage
from events.monitoring.flags import flags_of, flags_open
from events.monitoring.models import Flag
from refundtool.exceptions import RefundNotFoundError
from refundtool.models import (
    PHONE_SEPARATORS,
    RECEIPT_DUE_STATUSES,
    Refund,
    RefundItemMark,
    RefundTransition,
    phone_digits,
)
from refundtool.states import FiscalStatus
from refundtool.validation import GS, marking_code_identity

# The subject type of refunds' monitoring flags (events.monitoring.models.Flag).
REFUND_FLAG_SUBJECT = "refund"


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


# --- support admin, API and reports -------------------------------------------------------------


def refunds_stuck_filter(*, now: datetime) -> Q:
    """Refunds in a non-terminal state for longer than settings.REFUNDTOOL_STUCK_AFTER_SECONDS allows it.

    One (status, status_changed_at) range per state, so each arm reads refund_status_since_idx.
    """
    return reduce(
        operator.or_,
        (
            Q(status=status, status_changed_at__lt=now - timedelta(seconds=seconds))
            for status, seconds in settings.REFUNDTOOL_STUCK_AFTER_SECONDS.items()
        ),
    )


def refunds_sla_breached_filter(*, now: datetime) -> Q:
    """Refunds whose money left more than FISCAL_SLA_SECONDS ago while the receipt is still not done.

    Only refunds with a receipt due ever have a pending or failed fiscal status (RU), so the
    partial index refund_receipt_due_idx holds exactly the candidates.
    """
    return Q(
        fiscal_status__in=RECEIPT_DUE_STATUSES,
        refunded_at__lt=now - timedelta(seconds=settings.FISCAL_SLA_SECONDS),
    )


def refunds_without_receipt() -> QuerySet[Refund]:
    """Refunds whose money left but whose receipt is not done: the accountants' reconciliation."""
    return Refund.objects.filter(fiscal_status__in=RECEIPT_DUE_STATUSES, refunded_at__isnull=False)


class SlaStatus(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "not applicable"
    RUNNING = "running", "running"
    MET = "met", "met"
    BREACHED = "breached", "breached"


@dataclass(frozen=True, slots=True)
class Sla:
    status: SlaStatus
    deadline: datetime | None = None

    @property
    def met(self) -> bool | None:
        """True or False once decided; None while the receipt may still arrive in time, or none is due."""
        return {SlaStatus.MET: True, SlaStatus.BREACHED: False}.get(self.status)


def refund_sla(refund: Refund, *, now: datetime) -> Sla:
    return sla_of(
        fiscal_status=refund.fiscal_status,
        refunded_at=refund.refunded_at,
        receipt_datetime=refund.receipt_datetime,
        now=now,
    )


def sla_of(
    *, fiscal_status: str, refunded_at: datetime | None, receipt_datetime: datetime | None, now: datetime
) -> Sla:
    """The fiscal receipt's SLA: registered within FISCAL_SLA_SECONDS of the money leaving (refunded_at).

    A done receipt is judged by its receipt_datetime (the cash register's time).
    """
    if fiscal_status == FiscalStatus.NOT_REQUIRED or refunded_at is None:
        return Sla(SlaStatus.NOT_APPLICABLE)
    deadline = refunded_at + timedelta(seconds=settings.FISCAL_SLA_SECONDS)
    if fiscal_status == FiscalStatus.DONE:
        late = receipt_datetime is not None and receipt_datetime > deadline
        return Sla(SlaStatus.BREACHED if late else SlaStatus.MET, deadline)
    return Sla(SlaStatus.BREACHED if now > deadline else SlaStatus.RUNNING, deadline)


def refunds_stuck(*, now: datetime) -> QuerySet[Refund]:
    """The stuck refunds: what the admin's "stuck" filter, the beat task and the metric all count."""
    return Refund.objects.filter(refunds_stuck_filter(now=now))


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


def refund_flags(*, refund_id: UUID) -> QuerySet[Flag]:
    """The monitoring flags of a refund (stuck, Payment not answering), open first: for its admin page."""
    return flags_of(subject_type=REFUND_FLAG_SUBJECT, subject_id=str(refund_id))


def refunds_flagged_filter() -> Q:
    """Refunds with an open monitoring flag: for an admin filter."""
    flagged = flags_open(subject_type=REFUND_FLAG_SUBJECT).annotate(refund_id=Cast("subject_id", UUIDField()))
    return Q(id__in=flagged.values("refund_id"))


def refund_is_stuck(refund: Refund, *, now: datetime) -> bool:
    seconds = settings.REFUNDTOOL_STUCK_AFTER_SECONDS.get(refund.status)
    return seconds is not None and now - refund.status_changed_at > timedelta(seconds=seconds)


def refund_events(*, order_number: str) -> tuple[QuerySet[InboxMessage], QuerySet[OutboxMessage]]:
    """The events consumed (inbox) and written (outbox) for an order, oldest first; both are keyed by it."""
    return (
        InboxMessage.objects.filter(key=order_number).order_by("received_at", "id"),
        OutboxMessage.objects.filter(key=order_number).order_by("created_at", "id"),
    )


def refunds_matching(term: str) -> Q:
    """Support's search, by exact values only, so that every branch reads an index.

    A UUID is a refund id or refund_request_id; text with "@" an e-mail (any case); a marking code
    (the base64 BOB sends, the scan with its GS separators, or "(01)<GTIN>(21)<serial>" as printed
    under the DataMatrix) the refunds of that unit, by GTIN and serial; anything else an order
    number (as typed or upper-cased) or payment transaction id, and, when it has at least seven
    digits and only phone separators, a phone number compared digit by digit.
    """
    term = term.strip()
    try:
        uuid = UUID(term)
    except ValueError:
        pass
    else:
        return Q(pk=uuid) | Q(refund_request_id=uuid)
    if "@" in term:
        return Q(customer_email__iexact=term)
    identity = marking_code_searched(term)
    if identity is not None:
        gtin, serial = identity
        return Q(Exists(RefundItemMark.objects.filter(refund=OuterRef("pk"), gtin=gtin, serial=serial)))
    matches = Q(order_number__in={term, term.upper()}) | Q(payment_transaction_id=term)
    digits = "".join(char for char in term if char not in PHONE_SEPARATORS)
    if digits.isdigit() and len(digits) >= 7:
        matches |= Q(Exact(phone_digits("customer_phone"), digits))
    return matches


def marking_code_searched(term: str) -> tuple[str, str] | None:
    """The (GTIN, serial) of a marking code typed into the search: base64, the raw scan, or the printed form."""
    printed = re.fullmatch(r"\(01\)([0-9]{14})\(21\)(\S{1,20}?)(?:\(9[123]\)\S*)?", term)
    if printed is not None:
        return printed[1], printed[2]
    if (term.startswith("01") and GS in term) or re.fullmatch(r"01[0-9]{14}21\S{1,20}", term):
        return marking_code_identity(base64.b64encode(term.encode()).decode())
    return marking_code_identity(term) if len(term) % 4 == 0 else None
