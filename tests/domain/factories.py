"""Requests, actors and shortcuts shared by the domain tests."""

from __future__ import annotations

import base64
import copy
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count

from refundtool.models import Refund, RefundTransition
from refundtool.services import (
    Actor,
    refund_apply_fiscal_result,
    refund_apply_payment_result,
    refund_request,
)

SUPPORT = Actor.user("support.anna")
FISCALIZATION = Actor.system("fiscalization")
T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(minutes=minutes) for minutes in (1, 2, 3, 4)]

RU_REQUEST: dict[str, Any] = {
    "order_number": "RU-100200300",
    "country": "RU",
    "currency": "RUB",
    "customer": {"email": "buyer@example.com", "phone": "+7 999 123-45-67"},
    "payment": {"payment_id": "pay-1", "method": "card"},
    "items": [
        {
            "item_id": "1",
            "sku": "SKU-KETTLE",
            "name": "Kettle",
            "quantity": 2,
            "unit_price": "1499.00",
            "vat_rate": "22",
            "reason": "broken",
        },
        {
            "item_id": "2",
            "sku": "SKU-MUG",
            "name": "Mug",
            "quantity": 1,
            "unit_price": "350.50",
            "vat_rate": "20",
            "reason": "wrong colour",
        },
    ],
    "delivery_amount": "300.00",
    "amount": "3648.50",
    "requested_at": "2026-03-01T10:00:00+03:00",
}
RU_AMOUNT = Decimal("3648.50")


def request_data(country: str = "RU", **overrides: Any) -> dict[str, Any]:
    """A valid bob.refund_requested `data` with a fresh refund_request_id."""
    data = copy.deepcopy(RU_REQUEST)
    data["refund_request_id"] = str(uuid.uuid4())
    if country != "RU":
        currency = {"KZ": "KZT", "BY": "BYN", "UA": "UAH"}[country]
        data.update(country=country, currency=currency, order_number=f"{country}-100200300")
    data.update(overrides)
    return data


# Marking codes as BOB sends them (base64 of the scan, GS separators included): pairs of shoes.
MARK_CODES = [
    base64.b64encode(f"0104690123456783215hT9qL2xW8p{index:02d}\x1d91EE06\x1d92{'A' * 44}".encode()).decode()
    for index in range(10)
]


def request_v2_data(country: str = "RU", **overrides: Any) -> dict[str, Any]:
    """A valid bob.refund_requested v2 `data`: RU_REQUEST split over card and bonus points, the
    kettles (item 1) marked goods with a code each."""
    data = request_data(country)
    del data["payment"]
    data["payment_id"] = "pay-1"
    data["tenders"] = [{"method": "card", "amount": "3000.00"}, {"method": "bonus_points", "amount": "648.50"}]
    data["items"][0].update(
        payment_object=33, marks=[{"code": MARK_CODES[0]}, {"code": MARK_CODES[1]}], measure="piece"
    )
    data.update(overrides)
    return data


def bob() -> Actor:
    return Actor.event(eid=uuid.uuid4(), producer="bob")


def payment() -> Actor:
    return Actor.event(eid=uuid.uuid4(), producer="payment")


def new_refund(country: str = "RU", **overrides: Any) -> Refund:
    return refund_request(data=request_data(country, **overrides), actor=bob())


def pay(
    refund: Refund,
    *,
    succeeded: bool = True,
    amount: Decimal | None = None,
    currency: str | None = None,
    transaction_id: str = "tx-1",
    at: datetime = TIMES[0],
    failure_reason: str = "",
) -> Refund:
    return refund_apply_payment_result(
        refund_id=refund.id,
        succeeded=succeeded,
        amount=refund.amount if amount is None else amount,
        currency=currency or refund.currency,
        processed_at=at,
        payment_transaction_id=transaction_id if succeeded else "",
        failure_reason=failure_reason,
        actor=payment(),
    )


def receipt(refund: Refund, *, succeeded: bool = True, document: str = "1001", reason: str = "") -> Refund:
    attributes = (
        {
            "fn_number": "9999078900012345",
            "fiscal_document_number": document,
            "fiscal_document_attribute": "3849203945",
            "receipt_datetime": TIMES[1],
            "ofd_receipt_url": f"https://ofd.example/receipt/{document}",
        }
        if succeeded
        else {}
    )
    return refund_apply_fiscal_result(
        refund_id=refund.id, succeeded=succeeded, reason=reason, actor=FISCALIZATION, **attributes
    )


def history(refund: Refund) -> list[tuple[str, str, str]]:
    return [
        (row.source, row.transition, row.target)
        for row in RefundTransition.objects.filter(refund_id=refund.id).order_by("sequence")
    ]


def stored_state(refund_id: uuid.UUID) -> dict[str, Any]:
    """Everything stored about a refund, in one query: its row and how many audit rows it has.

    Audit rows are append-only (the model refuses updates), so their count stands for them.
    """
    return Refund.objects.filter(pk=refund_id).annotate(audit_rows=Count("transitions")).values().get()
