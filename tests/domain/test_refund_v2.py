"""bob.refund_requested v2 (issue 22): its rules, and the refund's tenders and marks in and out."""

from __future__ import annotations

import base64

import pytest

from events.contracts.envelope import build_message
from events.contracts.validation import validate_message
from events.messaging.models import OutboxMessage
from refundtool.exceptions import ValidationError
from refundtool.services import refund_request
from refundtool.validation import parse_refund_request, refund_request_rule_errors
from tests.domain.factories import MARK_CODES, bob, request_v2_data

pytestmark = pytest.mark.django_db


def _code(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CASES = {
    "tenders_do_not_add_up": (
        lambda d: d["tenders"][1].update(amount="1.00"),
        [("/data/tenders", "the tenders' amounts must add up to /data/amount")],
    ),
    "method_twice": (lambda d: d["tenders"][1].update(method="card"), [("/data/tenders/1/method", None)]),
    "method_not_in_country": (lambda d: d["tenders"][0].update(method="sbp"), [("/data/tenders/0/method", None)]),
    "marked_item_without_codes": (lambda d: d["items"][0].pop("marks"), [("/data/items/0/marks", None)]),
    "codes_do_not_cover_quantity": (lambda d: d["items"][0]["marks"].pop(), [("/data/items/0/marks", None)]),
    "bad_check_digit": (
        lambda d: d["items"][0]["marks"][0].update(code=_code("010469012345678421abc")),
        [("/data/items/0/marks/0/code", None)],
    ),
    "same_code_twice": (
        lambda d: d["items"][0]["marks"][1].update(code=MARK_CODES[0]),
        [("/data/items/0/marks/1/code", None)],
    ),
    "marks_on_unmarked_goods": (
        lambda d: d["items"][0].update(payment_object=1),
        [("/data/items/0/payment_object", None)],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_v2_rule_is_one_error_the_gateway_and_the_consumer_share(case):
    edit, expected = CASES[case]
    country = "KZ" if case == "method_not_in_country" else "RU"
    data = request_v2_data(country)
    edit(data)
    errors = refund_request_rule_errors(data)
    assert [e.path for e in errors] == [path for path, _ in expected]
    for error, (_, message) in zip(errors, expected, strict=True):
        assert message is None or error.message == message
    message = build_message("bob.refund_requested", data, country=country, producer="bob", version=2)
    assert validate_message("bob.refund_requested", message) == errors  # what the gateway answers with 422
    with pytest.raises(ValidationError) as refused:  # what the consumer dead-letters
        parse_refund_request(data)
    assert refused.value.errors == errors


def test_a_v2_request_becomes_a_refund_with_its_tenders_and_marks_and_the_events_carry_them():
    refund = refund_request(data=request_v2_data(), actor=bob())
    assert [(t.method, str(t.amount), t.status) for t in refund.tenders.all()] == [
        ("card", "3000.00", "pending"),
        ("bonus_points", "648.50", "pending"),
    ]
    assert [(m.item_id, m.gtin, m.quantity) for m in refund.marks.all()] == [("1", "04690123456783", 1)] * 2
    rows = {(row.event_type, row.version) for row in OutboxMessage.objects.all()}
    # Two tenders: v1 of the command cannot say it, so Payment is commanded in v2 only.
    assert rows == {("refund.update", 1), ("refund.update", 2), ("refund.item_ready_to_refund", 2)}
    command = OutboxMessage.objects.get(event_type="refund.item_ready_to_refund").message["data"]
    assert command["tenders"] == [
        {"method": "card", "amount": "3000.00"},
        {"method": "bonus_points", "amount": "648.50"},
    ]
    update = OutboxMessage.objects.filter(event_type="refund.update", version=2).last().message["data"]
    assert [m["code"] for m in update["items"][0]["marks"]] == MARK_CODES[:2]
