"""The refund, its items and its append-only audit trail.

The status is a protected django-fsm-2 field: it changes only through the transition methods below,
and only ``refundtool.services`` calls them (under a row lock, with the audit row, the sequence bump
and the outgoing events in the same transaction). Each transition's ``custom`` says which actors may
trigger it and what triggers it; docs/refund-transitions.md is generated from them.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Replace, Upper
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from refundtool.countries import fiscal_receipt_required
from refundtool.states import (
    ActorKind,
    FiscalStatus,
    ItemPaymentMethod,
    Measure,
    PaymentMethod,
    RefundStatus,
    TenderStatus,
    VatRate,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


@dataclass(frozen=True, slots=True)
class TenderResult:
    """What Payment reported for one tender (payment.refund_processed v2)."""

    method: str
    amount: Decimal
    succeeded: bool
    transaction_id: str = ""
    failure_reason: str = ""


@dataclass(frozen=True, slots=True)
class PaymentResult:
    succeeded: bool
    amount: Decimal
    currency: str
    processed_at: datetime
    transaction_id: str = ""
    failure_reason: str = ""
    # Empty for a version 1 result, which reports the whole refund as one.
    tenders: tuple[TenderResult, ...] = ()

    @property
    def money_left(self) -> bool:
        """Some money went back: the whole refund, or a tender of a result that failed elsewhere."""
        return self.succeeded or any(tender.succeeded for tender in self.tenders)


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    succeeded: bool
    fn_number: str = ""
    fiscal_document_number: str = ""
    fiscal_document_attribute: str = ""
    receipt_datetime: datetime | None = None
    ofd_receipt_url: str = ""


# The fiscal statuses of a refund whose money left while its receipt is not registered yet.
RECEIPT_DUE_STATUSES = (FiscalStatus.PENDING, FiscalStatus.FAILED)
PHONE_SEPARATORS = (" ", "-", "(", ")", "+")


def phone_digits(field: str) -> Func:
    """The phone number without the separators people type, "+7 (999) 123-45-67" -> "79991234567"."""
    expression: Func | F = F(field)
    for separator in PHONE_SEPARATORS:
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def money_has_not_left(refund: Refund) -> bool:
    """no successful payment is recorded"""
    return refund.refunded_at is None


def money_has_left(refund: Refund) -> bool:
    """a successful payment is recorded"""
    return refund.refunded_at is not None


def receipt_not_registered(refund: Refund) -> bool:
    """the fiscal receipt is not done"""
    return refund.fiscal_status != FiscalStatus.DONE


def no_receipt_due(refund: Refund) -> bool:
    """the country has no fiscal duty"""
    return refund.fiscal_status == FiscalStatus.NOT_REQUIRED


def _transition(
    *,
    source: RefundStatus | Sequence[RefundStatus],
    target: RefundStatus,
    actors: Iterable[ActorKind],
    trigger: str,
    conditions: list[Callable[[Refund], bool]] | None = None,
) -> Callable[[Any], Any]:
    return transition(
        field="status",
        source=source,
        target=target,
        conditions=conditions,
        custom={"actors": tuple(actors), "trigger": trigger},
    )


S = RefundStatus
ANYONE = (ActorKind.EVENT, ActorKind.USER, ActorKind.SYSTEM)


@functools.cache
def _field_defaults(model: type[models.Model]) -> dict[str, Callable[[], Any]]:
    """Each concrete field's attname and the function giving its default, in the fields' order."""
    return {field.attname: field.get_default for field in model._meta.concrete_fields}


class Refund(ConcurrentTransitionMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    refund_request_id = models.UUIDField(unique=True)
    # sha256 of the normalised request: a repeated refund_request_id is a duplicate only when it matches.
    request_fingerprint = models.CharField(max_length=64)
    order_number = models.CharField(max_length=64)
    country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**MONEY)
    delivery_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    payment_id = models.CharField(max_length=64)
    payment_method = models.CharField(max_length=32, choices=PaymentMethod.choices)
    customer_email = models.EmailField(blank=True)
    customer_phone = models.CharField(max_length=32, blank=True)
    requested_at = models.DateTimeField()

    status = FSMField(max_length=32, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, protected=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # The reason given with the latest change: a payment failure, why it needs attention, a cancel or resolve reason.
    reason = models.TextField(blank=True)
    # 1 for the first snapshot, +1 for every change; equals the number of the refund's audit rows.
    sequence = models.PositiveIntegerField(default=1)

    payment_transaction_id = models.CharField(max_length=128, blank=True)
    payment_result_at = models.DateTimeField(null=True, blank=True)  # processed_at of the last applied result
    refunded_at = models.DateTimeField(null=True, blank=True)  # when Payment says the money left

    # Denormalised from fiscalization (which refundtool cannot import) because refund.update carries it.
    fiscal_status = models.CharField(max_length=16, choices=FiscalStatus.choices, default=FiscalStatus.NOT_REQUIRED)
    fn_number = models.CharField(max_length=32, blank=True)
    fiscal_document_number = models.CharField(max_length=32, blank=True)
    fiscal_document_attribute = models.CharField(max_length=32, blank=True)
    receipt_datetime = models.DateTimeField(null=True, blank=True)
    ofd_receipt_url = models.URLField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(delivery_amount__gte=0), name="refund_delivery_amount_not_negative"),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="refund_status_known"),
            models.CheckConstraint(
                condition=Q(fiscal_status__in=FiscalStatus.values), name="refund_fiscal_status_known"
            ),
            models.CheckConstraint(
                condition=Q(payment_method__in=PaymentMethod.values), name="refund_payment_method_known"
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="refund_sequence_positive"),
        ]
        # Every index is paid for on each new refund (the consumer writes thousands a second): only
        # what a search or a filter reads. Searches are exact, so no pattern-ops twins.
        indexes = [
            models.Index(fields=["order_number"], name="refund_order_number_idx"),
            models.Index(fields=["status", "status_changed_at"], name="refund_status_since_idx"),
            # Partial where a new refund has no value yet: every query on them names a value.
            models.Index(fields=["refunded_at"], condition=Q(refunded_at__isnull=False), name="refund_refunded_at_idx"),
            models.Index(
                fields=["payment_transaction_id"], condition=~Q(payment_transaction_id=""), name="refund_payment_tx_idx"
            ),
            # Support admin and API (refundtool/admin.py, refundtool/api): the changelist's order and
            # date range, the API's updated_after cursor, case-blind e-mail search, phone search by
            # digits, and the small set of refunds whose receipt is still due (SLA, reconciliation).
            models.Index(fields=["created_at"], name="refund_created_at_idx"),
            models.Index(fields=["updated_at", "id"], name="refund_updated_at_idx"),
            models.Index(Upper("customer_email"), name="refund_email_ci_idx"),
            models.Index(phone_digits("customer_phone"), name="refund_phone_digits_idx"),
            models.Index(
                fields=["refunded_at"],
                condition=Q(fiscal_status__in=RECEIPT_DUE_STATUSES),
                name="refund_receipt_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.id} of order {self.order_number} ({self.status})"

    @classmethod
    def new(cls, **values: Any) -> Refund:
        """An unsaved refund with these field values and the defaults of the others.

        It passes every value by position, Model.__init__'s fast path (a third of the cost of
        keywords): the consumer builds thousands of refunds a second.
        """
        defaults = _field_defaults(cls)
        if not values.keys() <= defaults.keys():
            raise TypeError(f"Refund has no fields {', '.join(sorted(values.keys() - defaults.keys()))}")
        return cls(*(values[name] if name in values else default() for name, default in defaults.items()))

    # --- transitions -------------------------------------------------------------------------------

    @_transition(
        source=S.REQUESTED,
        target=S.READY_TO_REFUND,
        actors=[ActorKind.SYSTEM],
        trigger="refund_request, in the transaction that creates the refund",
    )
    def send_to_payment(self) -> None:
        """Entering ready_to_refund writes the item_ready_to_refund command for Payment."""

    @_transition(
        source=[S.READY_TO_REFUND, S.PAYMENT_FAILED],
        target=S.REFUNDED,
        actors=[ActorKind.EVENT],
        trigger="refund_apply_payment_result: succeeded, with the requested amount and currency",
    )
    def confirm_payment(self, *, payment: PaymentResult) -> None:
        self._record_payment(payment)
        self._await_receipt()

    @_transition(
        source=S.READY_TO_REFUND,
        target=S.PAYMENT_FAILED,
        actors=[ActorKind.EVENT],
        trigger="refund_apply_payment_result: failed",
    )
    def fail_payment(self, *, payment: PaymentResult) -> None:
        self._record_payment(payment)

    @_transition(
        source=S.REFUNDED,
        target=S.COMPLETED,
        actors=[ActorKind.SYSTEM],
        trigger="right after entering refunded, in the same transaction",
        conditions=[no_receipt_due],
    )
    def complete_without_receipt(self) -> None:
        pass

    @_transition(
        source=[S.REFUNDED, S.FISCAL_FAILED],
        target=S.COMPLETED,
        actors=[ActorKind.SYSTEM],
        trigger="refund_apply_fiscal_result: succeeded (fiscalization)",
    )
    def register_receipt(self, *, receipt: ReceiptResult) -> None:
        self._record_receipt(receipt)

    @_transition(
        source=S.REFUNDED,
        target=S.FISCAL_FAILED,
        actors=[ActorKind.SYSTEM],
        trigger="refund_apply_fiscal_result: failed for good (fiscalization)",
    )
    def fail_receipt(self, *, receipt: ReceiptResult) -> None:
        self._record_receipt(receipt)

    @_transition(
        source=S.PAYMENT_FAILED,
        target=S.READY_TO_REFUND,
        actors=[ActorKind.USER],
        trigger="refund_retry_payment (support)",
    )
    def retry_payment(self) -> None:
        pass

    @_transition(
        source=S.FISCAL_FAILED,
        target=S.REFUNDED,
        actors=[ActorKind.USER],
        trigger="refund_retry_fiscal (support); fiscalization reacts to refund_transitioned",
    )
    def retry_receipt(self) -> None:
        self.fiscal_status = FiscalStatus.PENDING

    @_transition(
        source=S.PAYMENT_FAILED,
        target=S.CANCELLED,
        actors=[ActorKind.EVENT, ActorKind.USER],
        trigger="refund_cancel (BOB or support) while no payment is in flight",
        conditions=[money_has_not_left],
    )
    def cancel(self) -> None:
        pass

    @_transition(
        source=[S.READY_TO_REFUND, S.REFUNDED, S.COMPLETED, S.PAYMENT_FAILED, S.FISCAL_FAILED, S.CANCELLED],
        target=S.NEEDS_ATTENTION,
        actors=ANYONE,
        trigger="refund_cancel after money may have left; refund_apply_payment_result that does not fit",
    )
    def require_attention(self, *, payment: PaymentResult | None = None) -> None:
        if payment is not None:
            self._record_payment(payment)

    @_transition(
        source=[S.READY_TO_REFUND, S.REFUNDED, S.PAYMENT_FAILED, S.FISCAL_FAILED],
        target=S.NEEDS_ATTENTION,
        actors=[ActorKind.USER],
        trigger="refund_flag_needs_attention (support), from a state that is not terminal",
    )
    def flag_needs_attention(self) -> None:
        pass

    @_transition(
        source=S.NEEDS_ATTENTION,
        target=S.NEEDS_ATTENTION,
        actors=ANYONE,
        trigger="a payment result, fiscal result or cancel arriving while the refund waits for support",
    )
    def note_attention(self, *, payment: PaymentResult | None = None, receipt: ReceiptResult | None = None) -> None:
        if payment is not None:
            self._record_payment(payment)
        if receipt is not None:
            self._record_receipt(receipt)

    @_transition(
        source=[S.NEEDS_ATTENTION, S.PAYMENT_FAILED, S.FISCAL_FAILED],
        target=S.COMPLETED,
        actors=[ActorKind.USER],
        trigger="refund_resolve(target=completed) (support)",
    )
    def resolve_as_completed(self) -> None:
        pass

    @_transition(
        source=[S.NEEDS_ATTENTION, S.PAYMENT_FAILED],
        target=S.CANCELLED,
        actors=[ActorKind.USER],
        trigger="refund_resolve(target=cancelled) (support)",
        conditions=[money_has_not_left],
    )
    def resolve_as_cancelled(self) -> None:
        pass

    @_transition(
        source=S.NEEDS_ATTENTION,
        target=S.REFUNDED,
        actors=[ActorKind.USER],
        trigger="refund_resolve(target=refunded) (support): the money left, let the normal flow finish",
        conditions=[money_has_left, receipt_not_registered],
    )
    def resolve_as_refunded(self) -> None:
        self._await_receipt()

    # --- facts recorded by transitions -------------------------------------------------------------

    def _record_payment(self, payment: PaymentResult) -> None:
        self.payment_result_at = payment.processed_at
        # The first success is the refund's money movement; a later one is only named in the reason.
        # A partial one (some tenders succeeded) is one too: that money left, so the refund can no
        # longer be cancelled.
        if payment.money_left and self.refunded_at is None:
            self.refunded_at = payment.processed_at
            self.payment_transaction_id = payment.transaction_id

    def _record_receipt(self, receipt: ReceiptResult) -> None:
        if not receipt.succeeded:
            self.fiscal_status = FiscalStatus.FAILED
            return
        self.fiscal_status = FiscalStatus.DONE
        self.fn_number = receipt.fn_number
        self.fiscal_document_number = receipt.fiscal_document_number
        self.fiscal_document_attribute = receipt.fiscal_document_attribute
        self.receipt_datetime = receipt.receipt_datetime
        self.ofd_receipt_url = receipt.ofd_receipt_url

    def _await_receipt(self) -> None:
        due = fiscal_receipt_required(self.country)
        self.fiscal_status = FiscalStatus.PENDING if due else FiscalStatus.NOT_REQUIRED


class RefundItem(models.Model):
    # Indexed by the unique (refund, item_id) constraint, which starts with it.
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="items", db_index=False)
    item_id = models.CharField(max_length=64)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    vat_rate = models.CharField(max_length=4, choices=VatRate.choices)
    reason = models.CharField(max_length=500)
    # What the FFD 1.2 receipt needs beyond version 1 (bob.refund_requested v2); v1 items keep the defaults.
    measure = models.CharField(max_length=20, choices=Measure.choices, default=Measure.PIECE)  # tag 2108
    payment_method = models.CharField(  # tag 1214
        max_length=16, choices=ItemPaymentMethod.choices, default=ItemPaymentMethod.FULL_PAYMENT
    )
    payment_object = models.PositiveSmallIntegerField(default=1)  # tag 1212: 1 goods, 31 and 33 with marks
    sectoral_props = models.JSONField(default=list, blank=True)  # tag 1260: [{federal_id, date, number, value}]

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "item_id"], name="refund_item_unique_item_id"),
            models.CheckConstraint(condition=Q(measure__in=Measure.values), name="refund_item_measure_known"),
            models.CheckConstraint(
                condition=Q(payment_method__in=ItemPaymentMethod.values), name="refund_item_payment_method_known"
            ),
            models.CheckConstraint(
                condition=Q(payment_object__gte=1, payment_object__lte=33), name="refund_item_payment_object_known"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="refund_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="refund_item_unit_price_positive"),
            models.CheckConstraint(condition=Q(vat_rate__in=VatRate.values), name="refund_item_vat_rate_known"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class RefundTender(models.Model):
    """A part of a refund that goes back by one payment method, and what Payment reported for it."""

    # Indexed by the unique (refund, position) constraint, which starts with it.
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="tenders", db_index=False)
    position = models.PositiveSmallIntegerField()  # BOB's order; 0 is the main tender (Refund.payment_method)
    method = models.CharField(max_length=32, choices=PaymentMethod.choices)
    amount = models.DecimalField(**MONEY)  # in the refund's currency
    status = models.CharField(max_length=16, choices=TenderStatus.choices, default=TenderStatus.PENDING)
    payment_transaction_id = models.CharField(max_length=128, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["refund", "position"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "position"], name="refund_tender_unique_position"),
            models.UniqueConstraint(fields=["refund", "method"], name="refund_tender_unique_method"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_tender_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=PaymentMethod.values), name="refund_tender_method_known"),
            models.CheckConstraint(condition=Q(status__in=TenderStatus.values), name="refund_tender_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} by {self.method} ({self.status})"


class RefundItemMark(models.Model):
    """A marking code of a refunded item ("Честный знак"), as BOB scanned it, and the units it covers.

    Its item is (refund, item_id), RefundItem's unique pair: the consumer writes items and marks in
    one COPY each, which reads no item ids back.
    """

    # Indexed by the unique (refund, gtin, serial) constraint, which starts with it.
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="marks", db_index=False)
    item_id = models.CharField(max_length=64)  # BOB's id of the item, as RefundItem.item_id
    position = models.PositiveIntegerField()  # order within the item, as BOB sent them
    # base64 of the scan (GS separators included): what ATOL Online v5 takes as mark_code.gs1m.
    code = models.CharField(max_length=184)
    gtin = models.CharField(max_length=14)  # (01) of the code
    serial = models.CharField(max_length=20)  # (21) of the code
    quantity = models.PositiveIntegerField(default=1)  # units of the item it covers
    # Units of the code's package when only `quantity` of them are refunded (FFD 1.2 tag 1291).
    package_quantity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["refund", "item_id", "position"]
        constraints = [
            # A unit goes back once per refund.
            models.UniqueConstraint(fields=["refund", "gtin", "serial"], name="refund_mark_unique_code"),
            models.UniqueConstraint(fields=["refund", "item_id", "position"], name="refund_mark_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="refund_mark_quantity_positive"),
            models.CheckConstraint(
                condition=Q(package_quantity__isnull=True) | Q(package_quantity__gt=F("quantity")),
                name="refund_mark_package_larger",
            ),
        ]
        # Support's search by marking code (refundtool.selectors.refunds_matching): every refund of a unit.
        indexes = [models.Index(fields=["gtin", "serial"], name="refund_mark_code_idx")]

    def __str__(self) -> str:
        return f"(01){self.gtin}(21){self.serial}"


class RefundTransition(models.Model):
    """One row per change of a refund, never updated or deleted: the refund's history."""

    # Indexed by the unique (refund, sequence) constraint, which starts with it.
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="transitions", db_index=False)
    sequence = models.PositiveIntegerField()  # the refund's sequence after this change
    transition = models.CharField(max_length=64)
    source = models.CharField(max_length=32, choices=RefundStatus.choices, blank=True)  # "" when created
    target = models.CharField(max_length=32, choices=RefundStatus.choices)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=150)  # producer of the event, username, or system component
    causing_eid = models.UUIDField(null=True, blank=True)
    reason = models.TextField(blank=True)
    event_types = models.JSONField(default=list)  # the events this change announced
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["refund", "sequence"]
        constraints = [
            # Two changes can never both claim to follow the same snapshot.
            models.UniqueConstraint(fields=["refund", "sequence"], name="refund_transition_unique_sequence"),
            models.CheckConstraint(
                condition=Q(source__in=[*RefundStatus.values, ""]), name="refund_transition_source_known"
            ),
            models.CheckConstraint(condition=Q(target__in=RefundStatus.values), name="refund_transition_target_known"),
            models.CheckConstraint(condition=Q(actor_kind__in=ActorKind.values), name="refund_transition_actor_known"),
        ]

    def __str__(self) -> str:
        return f"{self.source or '-'} -> {self.target} ({self.transition})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise IntegrityError("refund transitions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise IntegrityError("refund transitions are append-only")
