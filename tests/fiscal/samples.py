"""A valid ATOL v5 sell_refund body, written out by hand, for tests of the emulator and the client."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

_BODY: dict[str, Any] = {
    "external_id": "rt-sample-1",
    "timestamp": "01.02.2026 10:00:00",
    "receipt": {
        "client": {"email": "buyer@example.com"},
        "company": {
            "email": "receipts@refundtool.example",
            "sno": "osn",
            "inn": "7700000001",
            "payment_address": "https://shop.refundtool.example",
        },
        "items": [
            {
                "name": "Kettle",
                "price": Decimal("1499.99"),
                "quantity": 2,
                "measure": 0,
                "sum": Decimal("2999.98"),
                "payment_method": "full_payment",
                "payment_object": 1,
                "vat": {"type": "vat22"},
            },
            {
                "name": "Delivery",
                "price": Decimal("300.00"),
                "quantity": 1,
                "measure": 0,
                "sum": Decimal("300.00"),
                "payment_method": "full_payment",
                "payment_object": 4,
                "vat": {"type": "vat22"},
            },
        ],
        "payments": [{"type": 1, "sum": Decimal("3299.98")}],
        "vats": [{"type": "vat22", "sum": Decimal("595.08")}],
        "total": Decimal("3299.98"),
    },
}


def sell_refund_body(external_id: str = "rt-sample-1") -> dict[str, Any]:
    body = copy.deepcopy(_BODY)
    body["external_id"] = external_id
    return body
