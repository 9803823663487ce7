"""The vocabulary of the refund state machine: states, fiscal statuses, actors and the events a state announces.

The transitions themselves are the django-fsm-2 methods of ``refundtool.models.Refund``;
``manage.py refund_transitions`` renders both into docs/refund-transitions.md.
"""

from __future__ import annotations

from django.db import models


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    READY_TO_REFUND = "ready_to_refund", "Ready to refund"
    REFUNDED = "refunded", "Refunded"
    COMPLETED = "completed", "Completed"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    FISCAL_FAILED = "fiscal_failed", "Fiscal receipt failed"
    CANCELLED = "cancelled", "Cancelled"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"


STATUS_MEANINGS: dict[RefundStatus, str] = {
    RefundStatus.REQUESTED: "BOB's request is accepted; only ever seen in the first snapshot, because the same "
    "transaction sends the refund to Payment.",
    RefundStatus.READY_TO_REFUND: "The item_ready_to_refund command is written; Payment may be moving the money.",
    RefundStatus.REFUNDED: "Payment confirmed the money left; in RU the fiscal receipt is pending.",
    RefundStatus.COMPLETED: "Nothing is left to do: money refunded and, where due, the receipt registered.",
    RefundStatus.PAYMENT_FAILED: "Payment could not return the money; support retries or resolves.",
    RefundStatus.FISCAL_FAILED: "The receipt failed for good; support retries or resolves.",
    RefundStatus.CANCELLED: "BOB or support cancelled it before any money could leave.",
    RefundStatus.NEEDS_ATTENTION: "Something does not fit (late cancel, unexpected payment result); support resolves.",
}

# Terminal: left only by require_attention, when a fact arrives that contradicts them (a late cancel for
# a completed refund, money leaving for a cancelled one).
TERMINAL_STATUSES = frozenset({RefundStatus.COMPLETED, RefundStatus.CANCELLED})


class FiscalStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ActorKind(models.TextChoices):
    EVENT = "event", "Event"
    USER = "user", "User"
    SYSTEM = "system", "System"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    SBP = "sbp", "SBP"
    CASH_ON_DELIVERY = "cash_on_delivery", "Cash on delivery"
    GIFT_CARD = "gift_card", "Gift card"
    BONUS_POINTS = "bonus_points", "Bonus points"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"


class VatRate(models.TextChoices):
    NONE = "none", "No VAT"
    ZERO = "0", "0%"
    FIVE = "5", "5%"
    SEVEN = "7", "7%"
    TEN = "10", "10%"
    TWELVE = "12", "12%"
    SIXTEEN = "16", "16%"
    TWENTY = "20", "20% (RU goods sold in 2025)"
    TWENTY_TWO = "22", "22%"


class TenderStatus(models.TextChoices):
    """What Payment last reported for one tender of a refund."""

    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Measure(models.TextChoices):
    """The unit of an item's quantity: FFD 1.2 tag 2108; the label is ATOL Online v5's `measure` number."""

    PIECE = "piece", "0"
    GRAM = "gram", "10"
    KILOGRAM = "kilogram", "11"
    TON = "ton", "12"
    CENTIMETER = "centimeter", "20"
    DECIMETER = "decimeter", "21"
    METER = "meter", "22"
    SQUARE_CENTIMETER = "square_centimeter", "30"
    SQUARE_DECIMETER = "square_decimeter", "31"
    SQUARE_METER = "square_meter", "32"
    MILLILITER = "milliliter", "40"
    LITER = "liter", "41"
    CUBIC_METER = "cubic_meter", "42"
    KILOWATT_HOUR = "kilowatt_hour", "50"
    GIGACALORIE = "gigacalorie", "51"
    DAY = "day", "70"
    HOUR = "hour", "71"
    MINUTE = "minute", "72"
    SECOND = "second", "73"
    KILOBYTE = "kilobyte", "80"
    MEGABYTE = "megabyte", "81"
    GIGABYTE = "gigabyte", "82"
    TERABYTE = "terabyte", "83"
    OTHER = "other", "255"


class ItemPaymentMethod(models.TextChoices):
    """How an item was paid for when sold: FFD 1.2 tag 1214, named as ATOL Online v5's `payment_method`."""

    FULL_PREPAYMENT = "full_prepayment", "Full prepayment"
    PREPAYMENT = "prepayment", "Prepayment"
    ADVANCE = "advance", "Advance"
    FULL_PAYMENT = "full_payment", "Full payment"
    PARTIAL_PAYMENT = "partial_payment", "Partial payment"
    CREDIT = "credit", "Credit"
    CREDIT_PAYMENT = "credit_payment", "Credit payment"


REFUND_UPDATE = "refund.update"
ITEM_READY_TO_REFUND = "refund.item_ready_to_refund"
MONEY_REFUNDED = "refund.money_refunded"

# Every change announces refund.update; entering these states also announces the event named here
# (money_refunded only the first time a refund enters refunded: a receipt retry moves no money).
EVENTS_ON_ENTERING: dict[RefundStatus, str] = {
    RefundStatus.READY_TO_REFUND: ITEM_READY_TO_REFUND,
    RefundStatus.REFUNDED: MONEY_REFUNDED,
}
