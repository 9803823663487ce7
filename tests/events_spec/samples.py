"""Valid payloads of every event type of version 1."""

from __future__ import annotations

import uuid
from typing import Any

from events.contracts.envelope import build_message


def _items(count: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "item_id": f"item-{index}",
            "sku": f"SKU-{index}",
            "name": "Чайник электрический",
            "quantity": 2,
            "unit_price": "499.50",
            "vat_rate": "22",
            "reason": "arrived damaged",
        }
        for index in range(count)
    ]


def sample_data(event_type: str, order_number: str = "ORD-100001") -> dict[str, Any]:
    refund_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())
    payment = {"payment_id": "pay-77", "method": "card"}
    return {
        "bob.refund_requested": {
            "refund_request_id": request_id,
            "order_number": order_number,
            "country": "RU",
            "currency": "RUB",
            "customer": {"email": "ivan@example.com", "phone": "+7 900 123-45-67"},
            "payment": payment,
            "items": _items(),
            "delivery_amount": "300",
            "amount": "2298",
            "requested_at": "2026-03-02T10:00:00+03:00",
        },
        "bob.refund_cancelled": {
            "refund_request_id": request_id,
            "order_number": order_number,
            "reason": "customer changed their mind",
        },
        "refund.item_ready_to_refund": {
            "refund_id": refund_id,
            "refund_request_id": request_id,
            "order_number": order_number,
            "country": "RU",
            "currency": "RUB",
            "amount": "1998.00",
            "payment": payment,
            "items": _items(),
        },
        "payment.refund_processed": {
            "refund_id": refund_id,
            "order_number": order_number,
            "status": "succeeded",
            "amount": "1998.00",
            "currency": "RUB",
            "payment_transaction_id": "txn-1",
            "processed_at": "2026-03-02T10:05:00Z",
        },
        "refund.money_refunded": {
            "refund_id": refund_id,
            "refund_request_id": request_id,
            "order_number": order_number,
            "country": "RU",
            "currency": "RUB",
            "amount": "1998.00",
            "items": _items(),
            "payment": payment,
            "payment_transaction_id": "txn-1",
            "refunded_at": "2026-03-02T10:05:01+00:00",
        },
        "refund.update": {
            "refund_id": refund_id,
            "refund_request_id": request_id,
            "order_number": order_number,
            "country": "RU",
            "currency": "RUB",
            "status": "refunded",
            "previous_status": "ready_to_refund",
            "amount": "1998.00",
            "delivery_amount": "0.00",
            "items": _items(),
            "payment": payment,
            "payment_transaction_id": "txn-1",
            "fiscal": {
                "status": "pending",
                "fn_number": None,
                "fiscal_document_number": None,
                "fiscal_document_attribute": None,
                "receipt_datetime": None,
                "ofd_receipt_url": None,
            },
            "reason": None,
            "updated_at": "2026-03-02T10:05:01+00:00",
            "sequence": 3,
        },
    }[event_type]


def sample_message(event_type: str, order_number: str = "ORD-100001", **metadata: Any) -> dict[str, Any]:
    """A message of version 1 (the samples' version; several event types have a later one)."""
    return build_message(event_type, sample_data(event_type, order_number), country="RU", **{"version": 1, **metadata})
