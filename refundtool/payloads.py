"""The `data` of the events refundtool publishes, as JSON-ready dicts (helpers/PAYLOADS.md, version 1).

Pure functions of a refund (they read its items, nothing else): money as strings with exactly two
decimals, datetimes as RFC 3339 in UTC, empty optional strings as null.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from refundtool.models import Refund, RefundItem
from refundtool.validation import RefundItemRequest


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
