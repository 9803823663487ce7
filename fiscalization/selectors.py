"""Reads of the fiscalization app."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from fiscalization.builder import ReceiptSource, SourceItem
from fiscalization.models import Receipt
from refundtool.models import Refund
from refundtool.receipts import ReceiptView

# The standard rate an order's goods were sold at tells which standard rate its delivery was sold at.
STANDARD_RATES_NEWEST_FIRST = ("22", "20")


def receipt_source_of(refund: Refund) -> ReceiptSource:
    items = [
        SourceItem(name=item.name, unit_price=item.unit_price, quantity=item.quantity, vat_rate=item.vat_rate)
        for item in refund.items.all()
    ]
    return ReceiptSource(
        currency=refund.currency,
        amount=refund.amount,
        items=tuple(items),
        delivery_amount=refund.delivery_amount,
        delivery_vat_rate=delivery_vat_rate(item.vat_rate for item in items),
        payment_method=refund.payment_method,
        email=refund.customer_email or None,
        phone=refund.customer_phone or None,
    )


def delivery_vat_rate(item_rates: Iterable[str]) -> str:
    """The delivery's VAT rate, which the refund does not carry.

    Delivery is a service at the standard rate in force when the order was sold. Goods at 20% were
    sold in 2025, so their delivery was at 20% too; goods at 22% mean 2026. With only reduced or
    no-VAT goods the order does not tell, and FISCAL_DELIVERY_VAT_RATE decides.
    """
    rates = set(item_rates)
    if "20" in rates and "22" not in rates:
        return "20"
    if "22" in rates:
        return "22"
    return settings.FISCAL_DELIVERY_VAT_RATE


def latest_receipts_by_part(refund: Refund) -> dict[int, Receipt]:
    latest: dict[int, Receipt] = {}
    for receipt in Receipt.objects.filter(refund=refund).order_by("part", "seq"):
        latest[receipt.part] = receipt
    return latest


def breached_receipts() -> QuerySet[Receipt]:
    return Receipt.objects.filter(breached_at__isnull=False).select_related("refund").order_by("-breached_at")


def refund_receipt_views(refund: Refund) -> list[ReceiptView]:
    """Every receipt of the refund (each part's attempts, oldest first), as refundtool's pages show them."""
    return [
        ReceiptView(
            label=f"part {receipt.part}, attempt {receipt.seq} ({receipt.external_id})",
            status=receipt.status,
            attempts=receipt.attempts,
            last_error=receipt.last_error,
            fn_number=receipt.fn_number,
            fiscal_document_number=receipt.fiscal_document_number,
            fiscal_document_attribute=receipt.fiscal_document_attribute,
            receipt_datetime=receipt.receipt_datetime,
            ofd_receipt_url=receipt.ofd_receipt_url,
            created_at=receipt.created_at,
        )
        for receipt in Receipt.objects.filter(refund=refund).order_by("part", "seq")
    ]
