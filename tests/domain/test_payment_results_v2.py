"""Payment's answer in version 2 (issue 22): payments/handlers.py reads each tender's result, and the
refund and its tenders move by them. Every result goes through validate_message first, as the
consumer runs it, so a result the rules refuse never reaches the handler."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from events.contracts.envelope import build_message
from events.contracts.validation import validate_message
from events.messaging.handlers import IncomingEvent
from events.messaging.models import OutboxMessage
from payments.handlers import handle_refund_processed
from refundtool.models import Refund
from refundtool.services import refund_request
from refundtool.states import FiscalStatus, TenderStatus
from refundtool.states import RefundStatus as S
from tests.domain.factories import TIMES, bob, request_v2_data

pytestmark = pytest.mark.django_db

# request_v2_data's split: card 3000.00 and bonus_points 648.50 of 3648.50 RUB.
SPLIT = [("card", "3000.00"), ("bonus_points", "648.50")]


def split_refund(country: str = "RU") -> Refund:
    return refund_request(data=request_v2_data(country), actor=bob())


def result_message(refund: Refund, data: dict[str, Any], *, version: int) -> dict[str, Any]:
    """payment.refund_processed of `version` for the refund: its amount, `data` for the rest."""
    return build_message(
        "payment.refund_processed",
        {
            "refund_id": str(refund.id),
            "order_number": refund.order_number,
            "amount": f"{refund.amount:.2f}",
            "currency": refund.currency,
            "processed_at": TIMES[0].isoformat(),
            **data,
        },
        country=refund.country,
        producer="payment",
        version=version,
    )


def deliver(refund: Refund, data: dict[str, Any], *, version: int) -> None:
    """The result through the validation the consumer runs, then to the handler."""
    message = result_message(refund, data, version=version)
    assert validate_message("payment.refund_processed", message) == []
    event = IncomingEvent(
        event_type="payment.refund_processed",
        eid=uuid.UUID(message["metadata"]["eid"]),
        metadata=message["metadata"],
        data=message["data"],
        topic=f"payment.refund_processed.v{version}",
        partition=0,
        offset=0,
        key=refund.order_number,
    )
    handle_refund_processed(event)


def tender(method: str, amount: str, *, succeeded: bool, reason: str = "") -> dict[str, Any]:
    result = {"method": method, "amount": amount, "status": "succeeded" if succeeded else "failed"}
    if succeeded:
        result["payment_transaction_id"] = f"txn-{method}"
    if reason:
        result["failure_reason"] = reason
    return result


def success(reported: list[tuple[str, str]] = SPLIT) -> dict[str, Any]:
    """A v2 result in which every one of the `reported` tenders succeeded."""
    return {
        "status": "succeeded",
        "payment_transaction_id": "txn-whole",
        "tenders": [tender(method, amount, succeeded=True) for method, amount in reported],
    }


def tenders(refund: Refund) -> list[tuple[str, str, str, str, str]]:
    return [
        (t.method, f"{t.amount:.2f}", t.status, t.payment_transaction_id, t.failure_reason)
        for t in Refund.objects.get(pk=refund.id).tenders.all()
    ]


def latest_update_tenders(refund: Refund) -> list[dict[str, Any]]:
    """The tenders the latest refund.update v2 of the refund shows."""
    row = OutboxMessage.objects.filter(event_type="refund.update", version=2, key=refund.order_number).last()
    assert row.message["data"]["sequence"] == Refund.objects.get(pk=refund.id).sequence
    return [{k: v for k, v in t.items() if v is not None} for t in row.message["data"]["tenders"]]


def test_every_tender_succeeded_refunds_and_records_each_tenders_transaction():
    refund = split_refund()

    deliver(refund, success(), version=2)

    refund.refresh_from_db()
    assert (refund.status, refund.fiscal_status, refund.refunded_at) == (S.REFUNDED, FiscalStatus.PENDING, TIMES[0])
    assert refund.payment_transaction_id == "txn-whole"
    assert tenders(refund) == [
        ("card", "3000.00", TenderStatus.SUCCEEDED, "txn-card", ""),
        ("bonus_points", "648.50", TenderStatus.SUCCEEDED, "txn-bonus_points", ""),
    ]
    assert latest_update_tenders(refund) == [
        {"method": method, "amount": amount, "status": "succeeded", "payment_transaction_id": f"txn-{method}"}
        for method, amount in SPLIT
    ]


def test_tenders_reported_in_another_order_than_commanded_are_the_refunds():
    refund = split_refund()

    deliver(refund, success(list(reversed(SPLIT))), version=2)

    refund.refresh_from_db()
    assert refund.status == S.REFUNDED
    assert [t[2:4] for t in tenders(refund)] == [
        (TenderStatus.SUCCEEDED, "txn-card"),
        (TenderStatus.SUCCEEDED, "txn-bonus_points"),
    ]


def test_every_tender_failed_is_a_payment_failure_support_may_retry():
    refund = split_refund()

    deliver(
        refund,
        {
            "status": "failed",
            "failure_reason": "issuer declined",
            "tenders": [tender(method, amount, succeeded=False, reason="issuer declined") for method, amount in SPLIT],
        },
        version=2,
    )

    refund.refresh_from_db()
    assert (refund.status, refund.refunded_at, refund.payment_transaction_id) == (S.PAYMENT_FAILED, None, "")
    assert [t[2:] for t in tenders(refund)] == [(TenderStatus.FAILED, "", "issuer declined")] * 2


def test_a_partial_success_needs_attention_with_the_money_that_left_recorded():
    refund = split_refund()

    deliver(
        refund,
        {
            "status": "failed",
            "failure_reason": "bonus account closed",
            "tenders": [
                tender("card", "3000.00", succeeded=True),
                tender("bonus_points", "648.50", succeeded=False, reason="bonus account closed"),
            ],
        },
        version=2,
    )

    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION
    # Part of the money left: the refund can no longer be cancelled as if nothing had moved.
    assert refund.refunded_at == TIMES[0]
    assert refund.transitions.latest("sequence").reason == "Payment refunded part of the money (card); the rest failed"
    assert tenders(refund) == [
        ("card", "3000.00", TenderStatus.SUCCEEDED, "txn-card", ""),
        ("bonus_points", "648.50", TenderStatus.FAILED, "", "bonus account closed"),
    ]
    assert [(t["method"], t["status"]) for t in latest_update_tenders(refund)] == [
        ("card", "succeeded"),
        ("bonus_points", "failed"),
    ]


@pytest.mark.parametrize(
    "reported",
    [
        pytest.param([("card", "3648.50")], id="one_tender_for_a_split_refund"),
        pytest.param([("card", "2000.00"), ("bonus_points", "1648.50")], id="other_amounts"),
        pytest.param([("gift_card", "3000.00"), ("bonus_points", "648.50")], id="another_method"),
    ],
)
def test_a_success_on_other_tenders_than_the_refunds_needs_attention_with_the_money_recorded(reported):
    refund = split_refund()

    deliver(refund, success(reported), version=2)

    refund.refresh_from_db()
    assert (refund.status, refund.refunded_at, refund.payment_transaction_id) == (
        S.NEEDS_ATTENTION,
        TIMES[0],
        "txn-whole",
    )
    assert refund.transitions.latest("sequence").reason == "Payment reported other tenders than the refund's"


def test_a_failure_on_other_tenders_than_the_refunds_needs_attention_and_moves_no_money():
    refund = split_refund()

    deliver(
        refund,
        {
            "status": "failed",
            "failure_reason": "declined",
            "tenders": [tender("card", "3648.50", succeeded=False, reason="declined")],
        },
        version=2,
    )

    refund.refresh_from_db()
    assert (refund.status, refund.refunded_at) == (S.NEEDS_ATTENTION, None)
    assert refund.transitions.latest("sequence").reason == "Payment reported other tenders than the refund's"


def test_a_v1_success_on_a_split_refund_speaks_for_every_tender():
    refund = split_refund()

    deliver(refund, {"status": "succeeded", "payment_transaction_id": "txn-v1"}, version=1)

    refund.refresh_from_db()
    assert (refund.status, refund.refunded_at, refund.payment_transaction_id) == (S.REFUNDED, TIMES[0], "txn-v1")
    assert tenders(refund) == [
        ("card", "3000.00", TenderStatus.SUCCEEDED, "txn-v1", ""),
        ("bonus_points", "648.50", TenderStatus.SUCCEEDED, "txn-v1", ""),
    ]


def test_a_v1_failure_on_a_split_refund_fails_every_tender():
    refund = split_refund()

    deliver(refund, {"status": "failed", "failure_reason": "declined"}, version=1)

    refund.refresh_from_db()
    assert (refund.status, refund.refunded_at) == (S.PAYMENT_FAILED, None)
    assert [t[2:] for t in tenders(refund)] == [(TenderStatus.FAILED, "", "declined")] * 2


def test_a_tenders_success_stays_when_a_later_result_reports_it_failed():
    refund = split_refund()
    partial = {
        "status": "failed",
        "tenders": [tender("card", "3000.00", succeeded=True), tender("bonus_points", "648.50", succeeded=False)],
    }
    deliver(refund, partial, version=2)

    later = {"status": "failed", "processed_at": TIMES[1].isoformat(), "failure_reason": "declined"}
    later["tenders"] = [tender(method, amount, succeeded=False) for method, amount in SPLIT]
    deliver(refund, later, version=2)

    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION
    assert [t[:3] for t in tenders(refund)] == [
        ("card", "3000.00", TenderStatus.SUCCEEDED),
        ("bonus_points", "648.50", TenderStatus.FAILED),
    ]


def test_a_repeated_v2_result_changes_nothing():
    refund = split_refund()
    result = success()
    deliver(refund, result, version=2)
    refund.refresh_from_db()
    sequence, rows = refund.sequence, OutboxMessage.objects.count()

    deliver(refund, result | {"processed_at": TIMES[1].isoformat()}, version=2)

    refund.refresh_from_db()
    assert (refund.status, refund.sequence, OutboxMessage.objects.count()) == (S.REFUNDED, sequence, rows)


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        pytest.param(lambda d: d["tenders"][1].update(amount="1.00"), "/data/tenders", id="tenders_do_not_add_up"),
        pytest.param(lambda d: d.update(status="failed"), "/data/status", id="failed_though_every_tender_succeeded"),
        pytest.param(
            lambda d: d["tenders"][1].update(status="failed"), "/data/status", id="succeeded_though_a_tender_failed"
        ),
    ],
)
def test_a_v2_result_that_breaks_its_rules_is_refused_before_the_handler(edit, path):
    refund = split_refund()
    message = result_message(refund, success(), version=2)
    edit(message["data"])

    assert [error.path for error in validate_message("payment.refund_processed", message)] == [path]
