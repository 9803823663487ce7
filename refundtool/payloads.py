"""The `data` of the events refundtool publishes, as JSON-ready dicts (helpers/PAYLOADS.md).

Pure functions of a refund (they read its items, tenders and marks, nothing else): money as strings
with exactly two decimals, datetimes as RFC 3339 in UTC, empty optional strings as null. Version 1
and version 2 of refund.update and refund.item_ready_to_refund are both built while v1 readers
migrate (README, "Version 2 of the refund contracts"); `RefundParts` carries what both repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from refundtool.models import Refund, RefundItem, RefundItemMark, RefundTender
from refundtool.states import TenderStatus
from refundtool.validation import MarkRequest, RefundItemRequest, RefundRequest, TenderRequest


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def items_data(items: Iterable[RefundItem | RefundItemRequest]) -> list[dict[str, Any]]:
    """The `items` of every payload. A caller building several payloads of one refund passes it to each."""
    return [
        {
            "item_id": item.item_id,
            "sku": item.sku,
            "name": item.name,
            "quantity": item.quantity,
            "unit_price": money(item.unit_price),
            "vat_rate": item.vat_rate,
            "reason": item.reason,
        }
        for item in items
    ]


def items_v2_data(
    items: Iterable[RefundItem | RefundItemRequest], marks: Mapping[str, Sequence[RefundItemMark | MarkRequest]]
) -> list[dict[str, Any]]:
    """The `items` of the version 2 payloads: v1's fields, the FFD 1.2 fields and the marks (by item_id)."""
    items = list(items)
    return [
        {
            **item_v1,
            "measure": item.measure,
            "payment_method": item.payment_method,
            "payment_object": item.payment_object,
            "marks": [_mark(mark) for mark in marks.get(item.item_id, ())],
            "sectoral_props": list(item.sectoral_props),
        }
        for item, item_v1 in zip(items, items_data(items), strict=True)
    ]


def _mark(mark: RefundItemMark | MarkRequest) -> dict[str, Any]:
    return {
        "code": mark.code,
        "gtin": mark.gtin,
        "serial": mark.serial,
        "quantity": mark.quantity,
        "package_quantity": mark.package_quantity,
    }


def tenders_data(tenders: Iterable[RefundTender | TenderRequest]) -> list[dict[str, Any]]:
    """The `tenders` of refund.update v2: each with what Payment last reported (pending for a new refund)."""
    return [
        {
            "method": tender.method,
            "amount": money(tender.amount),
            "status": getattr(tender, "status", TenderStatus.PENDING),
            "payment_transaction_id": getattr(tender, "payment_transaction_id", "") or None,
            "failure_reason": getattr(tender, "failure_reason", "") or None,
        }
        for tender in tenders
    ]


@dataclass(frozen=True, slots=True)
class RefundParts:
    """The lists every payload of one change repeats, built once: a refund's items in both versions, its tenders."""

    items: list[dict[str, Any]]
    items_v2: list[dict[str, Any]]
    tenders: list[dict[str, Any]]

    @classmethod
    def of_request(cls, request: RefundRequest) -> RefundParts:
        """A new refund's, from its request (nothing is written yet)."""
        marks = {item.item_id: item.marks for item in request.items}
        return cls(items_data(request.items), items_v2_data(request.items, marks), tenders_data(request.tenders))

    @classmethod
    def of_refund(cls, refund: Refund) -> RefundParts:
        items = list(refund.items.all())
        marks: dict[str, list[RefundItemMark]] = {}
        for mark in refund.marks.all():
            marks.setdefault(mark.item_id, []).append(mark)
        return cls(items_data(items), items_v2_data(items, marks), tenders_data(refund.tenders.all()))


def _items(refund: Refund, items: Sequence[dict[str, Any]] | None) -> Sequence[dict[str, Any]]:
    return items_data(refund.items.all()) if items is None else items


def _payment(refund: Refund) -> dict[str, str]:
    return {"payment_id": refund.payment_id, "method": refund.payment_method}


def refund_update_data(
    refund: Refund, previous_status: str | None, *, items: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "refund_id": str(refund.id),
        "refund_request_id": str(refund.refund_request_id),
        "order_number": refund.order_number,
        "country": refund.country,
        "currency": refund.currency,
        "status": refund.status,
        "previous_status": previous_status,
        "amount": money(refund.amount),
        "delivery_amount": money(refund.delivery_amount),
        "items": _items(refund, items),
        "payment": _payment(refund),
        "payment_transaction_id": refund.payment_transaction_id or None,
        "fiscal": {
            "status": refund.fiscal_status,
            "fn_number": refund.fn_number or None,
            "fiscal_document_number": refund.fiscal_document_number or None,
            "fiscal_document_attribute": refund.fiscal_document_attribute or None,
            "receipt_datetime": rfc3339(refund.receipt_datetime),
            "ofd_receipt_url": refund.ofd_receipt_url or None,
        },
        "reason": refund.reason or None,
        "updated_at": rfc3339(refund.updated_at),
        "sequence": refund.sequence,
    }


def item_ready_to_refund_data(refund: Refund, *, items: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "refund_id": str(refund.id),
        "refund_request_id": str(refund.refund_request_id),
        "order_number": refund.order_number,
        "country": refund.country,
        "currency": refund.currency,
        "amount": money(refund.amount),
        "payment": _payment(refund),
        "items": _items(refund, items),
    }


def money_refunded_data(refund: Refund, *, items: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "refund_id": str(refund.id),
        "refund_request_id": str(refund.refund_request_id),
        "order_number": refund.order_number,
        "country": refund.country,
        "currency": refund.currency,
        "amount": money(refund.amount),
        "items": _items(refund, items),
        "payment": _payment(refund),
        "payment_transaction_id": refund.payment_transaction_id or None,
        "refunded_at": rfc3339(refund.refunded_at),
    }


def refund_update_v2_data(refund: Refund, previous_status: str | None, *, parts: RefundParts) -> dict[str, Any]:
    """refund.update version 2: version 1's snapshot with payment_id and tenders for payment, v2 items."""
    data = refund_update_data(refund, previous_status, items=parts.items_v2)
    del data["payment"]
    return {**data, "payment_id": refund.payment_id, "tenders": parts.tenders}


def item_ready_to_refund_v2_data(refund: Refund, *, parts: RefundParts) -> dict[str, Any]:
    """refund.item_ready_to_refund version 2: what to return by which method."""
    data = item_ready_to_refund_data(refund, items=parts.items)
    del data["payment"]
    tenders = [{"method": tender["method"], "amount": tender["amount"]} for tender in parts.tenders]
    return {**data, "payment_id": refund.payment_id, "tenders": tenders}
