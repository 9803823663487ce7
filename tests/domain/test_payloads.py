"""The outgoing payloads follow helpers/PAYLOADS.md: money with two decimals, RFC 3339 times, null for absent."""

from datetime import datetime

import pytest

from refundtool.models import Refund
from refundtool.payloads import item_ready_to_refund_data, money_refunded_data, refund_update_data
from tests.domain.factories import TIMES, new_refund, pay, receipt

pytestmark = pytest.mark.django_db

ITEMS = [
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
]


def identity(refund: Refund) -> dict[str, str]:
    return {
        "refund_id": str(refund.id),
        "refund_request_id": str(refund.refund_request_id),
        "order_number": "RU-100200300",
        "country": "RU",
        "currency": "RUB",
    }


def test_refund_update_is_the_full_snapshot():
    refund = Refund.objects.get(pk=receipt(pay(new_refund(), transaction_id="tx-77")).id)

    data = refund_update_data(refund, "refunded")

    assert datetime.fromisoformat(data.pop("updated_at")) == refund.updated_at
    assert data == {
        **identity(refund),
        "status": "completed",
        "previous_status": "refunded",
        "amount": "3648.50",
        "delivery_amount": "300.00",
        "items": ITEMS,
        "payment": {"payment_id": "pay-1", "method": "card"},
        "payment_transaction_id": "tx-77",
        "fiscal": {
            "status": "done",
            "fn_number": "9999078900012345",
            "fiscal_document_number": "1001",
            "fiscal_document_attribute": "3849203945",
            "receipt_datetime": "2026-03-01T07:02:00+00:00",
            "ofd_receipt_url": "https://ofd.example/receipt/1001",
        },
        "reason": None,
        "sequence": 4,
    }


def test_the_first_snapshot_has_no_previous_status_and_empty_values_are_null():
    refund = Refund.objects.get(pk=new_refund(delivery_amount="0", amount="3348.50").id)

    data = refund_update_data(refund, None)

    assert data["previous_status"] is None
    assert data["delivery_amount"] == "0.00"
    assert data["payment_transaction_id"] is None
    assert data["fiscal"] == {
        "status": "not_required",
        "fn_number": None,
        "fiscal_document_number": None,
        "fiscal_document_attribute": None,
        "receipt_datetime": None,
        "ofd_receipt_url": None,
    }


def test_item_ready_to_refund_is_the_command_for_payment():
    refund = Refund.objects.get(pk=new_refund().id)
    assert item_ready_to_refund_data(refund) == {
        **identity(refund),
        "amount": "3648.50",
        "payment": {"payment_id": "pay-1", "method": "card"},
        "items": ITEMS,
    }


def test_money_refunded_carries_the_transaction_and_the_time_in_utc():
    refund = Refund.objects.get(pk=pay(new_refund(), transaction_id="tx-77", at=TIMES[0]).id)
    assert money_refunded_data(refund) == {
        **identity(refund),
        "amount": "3648.50",
        "items": ITEMS,
        "payment": {"payment_id": "pay-1", "method": "card"},
        "payment_transaction_id": "tx-77",
        "refunded_at": "2026-03-01T07:01:00+00:00",
    }
