"""The fiscal receipt: one provider document, registered under one external_id.

A refund has one receipt per part (at most 100 positions each). A part whose receipt failed with a
provider timeout, or that support retries, gets a new receipt under a new external_id (``seq`` + 1);
the old row stays as the history of attempts. At most one receipt per part is live or done.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from fiscalization.provider import FiscalAttributes, money_as_json_number

MONEY = {"max_digits": 14, "decimal_places": 2}


class ReceiptStatus(models.TextChoices):
    PENDING = "pending", "Pending (not sent yet)"
    SENT = "sent", "Sent (no answer yet)"
    WAIT = "wait", "Registered, waiting for the cash register"
    DONE = "done", "Done"
    FAIL = "fail", "Failed"


LIVE_STATUSES = (ReceiptStatus.PENDING, ReceiptStatus.SENT, ReceiptStatus.WAIT)


class ProviderBodyEncoder(json.JSONEncoder):
    """Stores the body as it goes on the wire: money as JSON numbers (exact, see fiscalization.provider)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return money_as_json_number(o)
        return super().default(o)


class ProviderBodyDecoder(json.JSONDecoder):
    """Reads money back as Decimal, so a stored body is resent byte for byte."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


class Receipt(models.Model):
    refund = models.ForeignKey("refundtool.Refund", on_delete=models.PROTECT, related_name="receipts")
    part = models.PositiveSmallIntegerField()  # 1..N: which 100 positions of the refund
    seq = models.PositiveSmallIntegerField(default=1)  # 1 for the part's first receipt, +1 for each new one
    external_id = models.CharField(max_length=128, unique=True)  # the provider's idempotency key
    operation = models.CharField(max_length=16, default="sell_refund")
    body = models.JSONField(encoder=ProviderBodyEncoder, decoder=ProviderBodyDecoder)  # exactly what is sent
    total = models.DecimalField(**MONEY)

    status = models.CharField(max_length=8, choices=ReceiptStatus.choices, default=ReceiptStatus.PENDING)
    provider_uuid = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # requests sent to the provider (registration and report)
    last_error = models.TextField(blank=True)

    fn_number = models.CharField(max_length=32, blank=True)
    fiscal_document_number = models.CharField(max_length=32, blank=True)
    fiscal_document_attribute = models.CharField(max_length=32, blank=True)
    receipt_datetime = models.DateTimeField(null=True, blank=True)
    ofd_receipt_url = models.CharField(max_length=500, blank=True)  # as the provider gave it

    created_at = models.DateTimeField(default=timezone.now)
    refunded_at = models.DateTimeField()  # the refund's, copied: the SLA clock starts there
    deadline = models.DateTimeField()  # refunded_at + FISCAL_SLA_SECONDS
    registered_at = models.DateTimeField(null=True, blank=True)  # the provider gave a uuid
    done_at = models.DateTimeField(null=True, blank=True)  # we saw done (or the final fail)
    # When the task now responsible for the receipt is due to run; the sweep re-enqueues it when
    # this is long past (the task was lost: a worker killed, a broker restarted).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    breached_at = models.DateTimeField(null=True, blank=True)  # when it was seen not done by the deadline

    class Meta:
        ordering = ["refund", "part", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "part", "seq"], name="receipt_unique_part_seq"),
            models.UniqueConstraint(
                fields=["refund", "part"],
                condition=~Q(status=ReceiptStatus.FAIL),
                name="receipt_one_live_or_done_per_part",
            ),
            models.CheckConstraint(condition=Q(status__in=ReceiptStatus.values), name="receipt_status_known"),
            models.CheckConstraint(condition=Q(part__gte=1) & Q(seq__gte=1), name="receipt_part_seq_positive"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=LIVE_STATUSES), name="receipt_live_due_idx"
            ),
            models.Index(fields=["deadline"], condition=Q(breached_at__isnull=True), name="receipt_unbreached_idx"),
            models.Index(fields=["breached_at"], condition=Q(breached_at__isnull=False), name="receipt_breached_idx"),
        ]

    def __str__(self) -> str:
        return f"receipt {self.external_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class BreachedReceipt(Receipt):
    """Receipts that were not done by their deadline: the SLA list in admin."""

    class Meta:
        proxy = True
        verbose_name = "receipt past its SLA deadline"
        verbose_name_plural = "receipts past their SLA deadline"


class CorrectionType(models.TextChoices):
    """FFD 1.2 tag 1173: who found that a settlement needs correcting."""

    SELF = "self", "Self: the seller found it"
    INSTRUCTION = "instruction", "Instruction of the tax office"


S = ReceiptStatus


class CorrectionReceipt(ConcurrentTransitionMixin, models.Model):
    """A correction receipt (ATOL Online v5 ``sell_refund_correction``) of a refund whose receipt was
    wrong, or failed past its SLA deadline.

    Support asks for it in admin; the row is also the audit of that request (who, when, why, on
    which basis) and is never deleted. Its status is a protected django-fsm-2 field: it changes only
    through the transitions below, each run by ``fiscalization.services`` under the row's lock. Its
    SLA is its own: ``FISCAL_CORRECTION_SLA_SECONDS`` from the request. At most one correction of a
    refund is live at a time; a failed one stays as history and support may ask again (``seq`` + 1).
    """

    # Indexed by the unique (refund, seq) constraint, which starts with it.
    refund = models.ForeignKey(
        "refundtool.Refund", on_delete=models.PROTECT, related_name="correction_receipts", db_index=False
    )
    seq = models.PositiveSmallIntegerField()  # 1 for the refund's first correction, +1 for each new one
    external_id = models.CharField(max_length=128, unique=True)  # the provider's idempotency key
    body = models.JSONField(encoder=ProviderBodyEncoder, decoder=ProviderBodyDecoder)  # exactly what is sent
    total = models.DecimalField(**MONEY)
    correction_type = models.CharField(max_length=16, choices=CorrectionType.choices)
    base_date = models.DateField()  # tag 1178: the date of the document the correction rests on
    base_number = models.CharField(max_length=32, blank=True)  # tag 1179: its number
    # The refund's latest receipt when support asked: the wrong or failed one (none when none was made).
    corrected_receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    requested_by = models.CharField(max_length=150)  # the support user's username
    reason = models.TextField()
    requested_at = models.DateTimeField(default=timezone.now)

    status = FSMField(max_length=8, choices=ReceiptStatus.choices, default=ReceiptStatus.PENDING, protected=True)
    provider_uuid = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # requests sent to the provider (registration and report)
    last_error = models.TextField(blank=True)
    fn_number = models.CharField(max_length=32, blank=True)
    fiscal_document_number = models.CharField(max_length=32, blank=True)
    fiscal_document_attribute = models.CharField(max_length=32, blank=True)
    receipt_datetime = models.DateTimeField(null=True, blank=True)
    ofd_receipt_url = models.CharField(max_length=500, blank=True)
    deadline = models.DateTimeField()  # requested_at + FISCAL_CORRECTION_SLA_SECONDS
    registered_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)  # as Receipt's: the sweep's lost-task clock
    breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["refund", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "seq"], name="correction_unique_seq"),
            models.UniqueConstraint(
                fields=["refund"], condition=Q(status__in=LIVE_STATUSES), name="correction_one_live_per_refund"
            ),
            models.CheckConstraint(condition=Q(status__in=ReceiptStatus.values), name="correction_status_known"),
            models.CheckConstraint(
                condition=Q(correction_type__in=CorrectionType.values), name="correction_type_known"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=LIVE_STATUSES), name="correction_live_due_idx"
            ),
            models.Index(fields=["deadline"], condition=Q(breached_at__isnull=True), name="correction_unbreached_idx"),
        ]

    def __str__(self) -> str:
        return f"correction {self.external_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @transition(field="status", source=[S.PENDING, S.SENT], target=S.SENT)
    def send(self, *, lease_until: datetime) -> None:
        """A registration request goes out (again, when an earlier answer was lost)."""
        self.attempts += 1
        self.next_attempt_at = lease_until

    @transition(field="status", source=S.SENT, target=S.WAIT)
    def register(self, *, uuid: str, at: datetime, poll_at: datetime) -> None:
        self.provider_uuid = uuid
        self.registered_at = at
        self.next_attempt_at = poll_at
        self.last_error = ""

    @transition(field="status", source=S.WAIT, target=S.PENDING)
    def register_again(self, *, at: datetime) -> None:
        """The provider lost the document (no state for its uuid, for too long): it is registered again
        under the same external_id, which a provider that still has it answers with its uuid."""
        self.next_attempt_at = at
        self.last_error = "the provider did not know the correction's uuid; registered again under its external_id"

    @transition(field="status", source=S.WAIT, target=S.DONE)
    def finish(self, *, fiscal: FiscalAttributes, at: datetime) -> None:
        self.fn_number = fiscal.fn_number
        self.fiscal_document_number = fiscal.fiscal_document_number
        self.fiscal_document_attribute = fiscal.fiscal_document_attribute
        self.receipt_datetime = fiscal.receipt_datetime
        self.ofd_receipt_url = fiscal.ofd_receipt_url
        self.done_at = at
        self.last_error = ""
        if self.deadline < at and self.breached_at is None:
            self.breached_at = at

    @transition(field="status", source=[S.PENDING, S.SENT, S.WAIT], target=S.FAIL)
    def fail(self, *, reason: str, at: datetime) -> None:
        self.last_error = reason
        self.done_at = at
