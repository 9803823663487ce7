"""Realistic BOB refund requests, for the BOB simulator, tests and benchmarks."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Rates a refunded item may carry: RU goods sold in 2025 keep 20%, later ones 22%.
VAT_RATES = {"RU": ["22", "22", "20", "10"], "KZ": ["16", "12"], "BY": ["20"], "UA": ["20"]}
CURRENCIES = {"RU": "RUB", "KZ": "KZT", "BY": "BYN", "UA": "UAH"}
PAYMENT_METHODS = ["card", "card", "card", "sbp", "cash_on_delivery", "gift_card", "bonus_points", "bank_transfer"]
PRODUCTS = ["Кроссовки беговые", "Футболка хлопковая", "Рюкзак городской", "Куртка демисезонная", "Носки, 3 пары"]
REASONS = ["size does not fit", "damaged in delivery", "changed my mind", "wrong colour"]
# The version of bob.refund_requested whose `data` fake_refund_request writes: build its messages with it,
# since a message names the latest version unless told otherwise.
REQUEST_VERSION = 1


def fake_refund_request(rng: random.Random, *, country: str, order_number: str | None = None) -> dict[str, Any]:
    """The data of one bob.refund_requested event whose amounts add up."""
    items = []
    for index in range(rng.randint(1, 4)):
        unit_price = Decimal(rng.randint(10_000, 999_999)) / 100
        items.append(
            {
                "item_id": f"it-{index + 1}-{rng.randint(1000, 9999)}",
                "sku": f"SKU{rng.randint(100000, 999999)}",
                "name": rng.choice(PRODUCTS),
                "quantity": rng.randint(1, 3),
                "unit_price": f"{unit_price:.2f}",
                "vat_rate": rng.choice(VAT_RATES[country]),
                "reason": rng.choice(REASONS),
            }
        )
    delivery = Decimal(rng.choice(["0.00", "0.00", "299.00"]))
    amount = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal("0")) + delivery
    customer: dict[str, str] = {"email": f"customer{rng.randint(1, 10**6)}@example.com"}
    if rng.random() < 0.5:
        customer["phone"] = f"+7900{rng.randint(1000000, 9999999)}"
    return {
        "refund_request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "order_number": order_number or f"{country}{rng.randint(10**8, 10**9 - 1)}",
        "country": country,
        "currency": CURRENCIES[country],
        "customer": customer,
        "payment": {"payment_id": f"pay-{rng.randint(10**6, 10**7)}", "method": rng.choice(PAYMENT_METHODS)},
        "items": items,
        "delivery_amount": f"{delivery:.2f}",
        "amount": f"{amount:.2f}",
        "requested_at": datetime.now(UTC).isoformat(),
    }
