"""A valid ATOL v5 sell_refund body, written out by hand, for tests of the emulator and the client."""

from __future__ import annotations

import base64
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


def gs1m(serial: str) -> str:
    """A marking code as BOB sends it: base64 of the scan, (01) GTIN, (21) serial, GS, crypto tail."""
    return base64.b64encode(f"0104690123456783215{serial}\x1d91EE06\x1d92{'A' * 44}".encode()).decode()


def marked_sell_refund_body(external_id: str = "rt-sample-marked") -> dict[str, Any]:
    """The sample with its kettles as a pair of marked shoes (a code each) and paid by card and gift card."""
    body = sell_refund_body(external_id)
    receipt = body["receipt"]
    shoes = receipt["items"][0] | {
        "name": "Shoes",
        "quantity": 1,
        "sum": Decimal("1499.99"),
        "payment_object": 33,
        "mark_code": {"gs1m": gs1m("shoe-1")},
        "mark_processing_mode": "0",
        "sectoral_item_props": [{"federal_id": "030", "date": "21.11.2023", "number": "1944", "value": "UUID=1"}],
    }
    receipt["items"][0:1] = [shoes, copy.deepcopy(shoes) | {"mark_code": {"gs1m": gs1m("shoe-2")}}]
    receipt["payments"] = [{"type": 1, "sum": Decimal("2299.98")}, {"type": 2, "sum": Decimal("1000.00")}]
    return body


def sell_refund_correction_body(external_id: str = "rt-sample-c1") -> dict[str, Any]:
    """A correction of the marked sample, by the seller's own act."""
    body = marked_sell_refund_body(external_id)
    correction = body.pop("receipt")
    correction["correction_info"] = {"type": "self", "base_date": "02.02.2026", "base_number": "17"}
    body["correction"] = correction
    return body
