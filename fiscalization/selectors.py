"""Reads of the fiscalization app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet

from fiscalization.builder import ReceiptSource, SourceItem, SourceMark, SourceTender
from fiscalization.models import LIVE_STATUSES, CorrectionReceipt, Receipt
from refundtool.models import Refund
from refundtool.receipts import ReceiptView
from refundtool.states import FiscalStatus, Measure

# The standard rate an order's goods were sold at tells which standard rate its delivery was sold at.
STANDARD_RATES_NEWEST_FIRST = ("22", "20")


def receipt_source_of(refund: Refund) -> ReceiptSource:
    marks: dict[str, list[SourceMark]] = {}
    for mark in refund.marks.all():  # in (item_id, position) order
        marks.setdefault(mark.item_id, []).append(
            SourceMark(code=mark.code, quantity=mark.quantity, package_quantity=mark.package_quantity)
        )
    items = [
        SourceItem(
            name=item.name,
            unit_price=item.unit_price,
            quantity=item.quantity,
            vat_rate=item.vat_rate,
            measure=int(Measure(item.measure).label),
            payment_method=item.payment_method,
            payment_object=item.payment_object,
            sectoral_props=tuple(item.sectoral_props),
            marks=tuple(marks.get(item.item_id, ())),
        )
        for item in refund.items.all()
    ]
    return ReceiptSource(
        currency=refund.currency,
        amount=refund.amount,
        items=tuple(items),
        delivery_amount=refund.delivery_amount,
        delivery_vat_rate=delivery_vat_rate(item.vat_rate for item in items),
        tenders=tuple(SourceTender(method=tender.method, amount=tender.amount) for tender in refund.tenders.all()),
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


def correction_next_seq(refund: Refund) -> int:
    """The number the refund's next correction takes (its external_id ends in -c<seq>)."""
    latest = CorrectionReceipt.objects.filter(refund=refund).order_by("-seq").values_list("seq", flat=True).first()
    return 1 if latest is None else latest + 1


def correction_refusal(refund: Refund, *, now: datetime) -> str | None:
    """Why a correction receipt cannot be asked for now, or None when it can.

    A correction replaces a receipt that was done but wrong, or one that failed for good past its
    SLA deadline (before it, support retries the receipt). It is refused while a receipt or another
    correction of the refund is under way: the provider could register both.
    """
    if refund.fiscal_status == FiscalStatus.FAILED:
        deadline = (refund.refunded_at or now) + timedelta(seconds=settings.FISCAL_SLA_SECONDS)
        if now < deadline:
            return "its receipt failed within the SLA: retry the receipt instead"
    elif refund.fiscal_status != FiscalStatus.DONE:
        return f"its fiscal status is {refund.fiscal_status}: there is no done or failed receipt to correct"
    if Receipt.objects.filter(refund=refund, status__in=LIVE_STATUSES).exists():
        return "a receipt of it is under way"
    if CorrectionReceipt.objects.filter(refund=refund, status__in=LIVE_STATUSES).exists():
        return "a correction receipt of it is under way"
    return None


def breached_receipts() -> QuerySet[Receipt]:
    return Receipt.objects.filter(breached_at__isnull=False).select_related("refund").order_by("-breached_at")


def refund_receipt_views(refund: Refund) -> list[ReceiptView]:
    """Every receipt of the refund (each part's attempts, oldest first), then its correction receipts
    with who asked for each and why, as refundtool's pages show them."""
    documents: list[Receipt | CorrectionReceipt] = [*Receipt.objects.filter(refund=refund).order_by("part", "seq")]
    documents += CorrectionReceipt.objects.filter(refund=refund).order_by("seq")
    return [
        ReceiptView(
            label=_label(document),
            status=document.status,
            attempts=document.attempts,
            last_error=document.last_error,
            fn_number=document.fn_number,
            fiscal_document_number=document.fiscal_document_number,
            fiscal_document_attribute=document.fiscal_document_attribute,
            receipt_datetime=document.receipt_datetime,
            ofd_receipt_url=document.ofd_receipt_url,
            created_at=document.created_at if isinstance(document, Receipt) else document.requested_at,
        )
        for document in documents
    ]


def _label(document: Receipt | CorrectionReceipt) -> str:
    if isinstance(document, Receipt):
        return f"part {document.part}, attempt {document.seq} ({document.external_id})"
    basis = f"{document.get_correction_type_display()}, base {document.base_number or '-'} of {document.base_date}"
    return (
        f"correction {document.seq} ({document.external_id}; {basis}), "
        f"asked by {document.requested_by}: {document.reason}"
    )


def refund_corrections(refunds: QuerySet[Refund]) -> dict[UUID, str]:
    """Of these refunds, those with a correction receipt: the latest one's status and external id."""
    corrections = CorrectionReceipt.objects.filter(refund__in=refunds).order_by("refund_id", "seq")
    return {
        refund_id: f"{status} {external_id}"
        for refund_id, status, external_id in corrections.values_list("refund_id", "status", "external_id")
    }
