"""Refunds made through the domain's own services, as the Kafka consumers make them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from refundtool.models import Refund
from refundtool.services import Actor, refund_apply_payment_result, refund_request

CURRENCIES = {"RU": "RUB", "KZ": "KZT", "BY": "BYN", "UA": "UAH"}


def items_of(count: int, *, unit_price: str = "100.00", vat_rate: str = "22") -> list[dict[str, Any]]:
    return [
        {
            "item_id": f"item-{n}",
            "sku": f"SKU-{n}",
            "name": f"Товар {n}",
            "quantity": 1 + n % 2,
            "unit_price": unit_price,
            "vat_rate": vat_rate,
            "reason": "не подошёл размер",
        }
        for n in range(count)
    ]


def requested_refund(
    *,
    country: str = "RU",
    items: list[dict[str, Any]] | None = None,
    delivery_amount: str = "0.00",
    customer: dict[str, str] | None = None,
    method: str = "card",
) -> Refund:
    items = items if items is not None else items_of(2)
    amount = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal(delivery_amount))
    data = {
        "refund_request_id": str(uuid.uuid4()),
        "order_number": f"ORD-{uuid.uuid4().hex[:12]}",
        "country": country,
        "currency": CURRENCIES[country],
        "customer": customer if customer is not None else {"email": "buyer@example.com"},
        "payment": {"payment_id": f"pay-{uuid.uuid4().hex[:8]}", "method": method},
        "items": items,
        "delivery_amount": delivery_amount,
        "amount": f"{amount:.2f}",
        "requested_at": timezone.now().isoformat(),
    }
    return refund_request(data=data, actor=Actor.event(eid=uuid.uuid4(), producer="bob"))


def pay(refund: Refund, *, processed_at: datetime | None = None) -> Refund:
    """Payment's success: the refund becomes refunded (and, in RU, gets its receipts)."""
    return refund_apply_payment_result(
        refund_id=refund.id,
        succeeded=True,
        amount=refund.amount,
        currency=refund.currency,
        processed_at=processed_at or timezone.now(),
        payment_transaction_id=f"tx-{uuid.uuid4().hex[:8]}",
        actor=Actor.event(eid=uuid.uuid4(), producer="payment"),
    )


def refunded_refund(**options: Any) -> Refund:
    return pay(requested_refund(**options))
