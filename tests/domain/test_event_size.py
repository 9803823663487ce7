"""A refund request whose events could exceed the broker's message limit is refused when validated."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from events.contracts.envelope import build_message
from events.contracts.validation import validate_message
from events.messaging.models import OutboxMessage
from refundtool.event_size import RECORD_OVERHEAD_BYTES, largest_event_bytes
from refundtool.models import TenderResult
from refundtool.services import refund_apply_payment_result, refund_request
from refundtool.states import PaymentMethod
from tests.domain.factories import TIMES, bob, new_refund, pay, payment, receipt, request_data, request_v2_data

pytestmark = pytest.mark.django_db

WIDE = "\U0001f600"


def _items(count: int, *, name_length: int = 255) -> list[dict]:
    return [
        {
            "item_id": f"{index:064d}",
            "sku": "S" * 64,
            "name": WIDE * name_length,
            "quantity": 1,
            "unit_price": "1.00",
            "vat_rate": "20",
            "reason": WIDE * 500,
        }
        for index in range(count)
    ]


def _request(items: list[dict]) -> dict:
    return {"amount": f"{len(items) + 3:.2f}", "delivery_amount": "3.00", "items": items}


def test_every_event_of_a_refund_at_its_longest_stays_within_the_bound():
    items = _items(3)
    long_text = WIDE * 500
    paid = new_refund(order_number="R" * 64, **_request(items))
    receipt(pay(paid, transaction_id="T" * 128), document="9" * 32)
    failed = new_refund(order_number="F" * 64, **_request(items))
    pay(failed, succeeded=False, failure_reason=long_text)
    # Version 2: a tender of every method, each failing with the longest reason.
    amount = Decimal(len(items) + 3)
    tenders = [{"method": method, "amount": "0.01"} for method in PaymentMethod.values[1:]]
    tenders.insert(0, {"method": PaymentMethod.values[0], "amount": f"{amount - Decimal('0.05'):.2f}"})
    split = refund_request(
        data=request_v2_data(order_number="S" * 64, payment_id="P" * 64, tenders=tenders, **_request(items)),
        actor=bob(),
    )
    results = [TenderResult(t["method"], Decimal(t["amount"]), False, "T" * 128, long_text) for t in tenders]
    refund_apply_payment_result(
        refund_id=split.id,
        succeeded=False,
        amount=amount,
        currency="RUB",
        processed_at=TIMES[0],
        failure_reason=long_text,
        tenders=results,
        actor=payment(),
    )

    bound = largest_event_bytes(items) - RECORD_OVERHEAD_BYTES
    sizes = [len(orjson.dumps(row.message)) for row in OutboxMessage.objects.all()]
    assert len(sizes) >= 6
    assert max(sizes) <= bound
    assert max(sizes) > bound * 0.6  # a bound, not a guess many times too large


def test_a_request_whose_events_could_exceed_the_limit_is_refused_at_items_naming_the_limit(settings):
    settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES = 60_000
    fits, too_many = _items(10), _items(30)
    assert largest_event_bytes(fits) <= 60_000 < largest_event_bytes(too_many)

    assert _errors(fits) == []
    errors = _errors(too_many)

    assert [error.path for error in errors] == ["/data/items"]
    assert "message limit of 60000 bytes (REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES)" in errors[0].message
    assert WIDE not in errors[0].message


def _errors(items: list[dict]) -> list:
    message = build_message(
        "bob.refund_requested", request_data(**_request(items)), country="RU", producer="bob", version=1
    )
    return validate_message("bob.refund_requested", message)
