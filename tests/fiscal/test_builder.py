"""The sell_refund body: golden files for whole bodies, and the rules that each body must keep.

Regenerate the golden files after a deliberate change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscalization.builder import (
    PAYMENT_TYPES,
    Company,
    ReceiptBuildError,
    ReceiptSource,
    SourceItem,
    normalise_phone,
    sell_refund_bodies,
)
from fiscalization.emulator import validate_sell_refund
from fiscalization.provider import encode_body

GOLDEN = Path(__file__).parent / "golden"
COMPANY = Company(
    inn="7700000001", sno="osn", email="receipts@refundtool.example", payment_address="https://shop.example"
)
# 2026-03-01 09:30:05 UTC is 12:30:05 in Moscow.
AT = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)


def source(**changes) -> ReceiptSource:
    values = {
        "currency": "RUB",
        "amount": Decimal("3299.98"),
        "items": (SourceItem(name="Чайник электрический", unit_price=Decimal("1499.99"), quantity=2, vat_rate="22"),),
        "delivery_amount": Decimal("300.00"),
        "delivery_vat_rate": "22",
        "payment_method": "card",
        "email": "buyer@example.com",
        "phone": None,
    } | changes
    return ReceiptSource(**values)


def item(name: str, price: str, quantity: int, vat_rate: str) -> SourceItem:
    return SourceItem(name=name, unit_price=Decimal(price), quantity=quantity, vat_rate=vat_rate)


CASES = {
    "card_email_goods_and_delivery": source(),
    "sbp_phone_every_russian_rate": source(
        items=(
            item("Куртка (продана в 2025 году)", "5999.00", 1, "20"),
            item("Детское питание", "89.90", 12, "10"),
            item("Книга на экспорт", "450.00", 1, "0"),
            item("Медицинское изделие", "1200.00", 1, "none"),
            item("Товар по ставке 5%", "100.01", 3, "5"),
            item("Товар по ставке 7%", "333.33", 3, "7"),
        ),
        delivery_amount=Decimal(0),
        amount=Decimal("10027.82"),
        payment_method="sbp",
        email=None,
        phone="8 (916) 123-45-67",
    ),
    "gift_card_long_name": source(
        items=(item("Очень длинное название " * 10, "1000.00", 1, "22"),),
        delivery_amount=Decimal(0),
        amount=Decimal("1000.00"),
        payment_method="gift_card",
    ),
    "split_201_items_and_delivery": source(
        items=tuple(item(f"Носки, пара {n}", "99.50", 1 + n % 3, "20" if n % 2 else "22") for n in range(201)),
        amount=Decimal("40198.00"),
        delivery_amount=Decimal("199.00"),
        payment_method="bank_transfer",
    ),
}


def as_golden_text(bodies: list[dict]) -> str:
    return json.dumps([json.loads(encode_body(body)) for body in bodies], ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_body_matches_its_golden_file(name):
    bodies = sell_refund_bodies(CASES[name], company=COMPANY, external_id_prefix=f"refund-{name}", at=AT)
    text = as_golden_text(bodies)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    for body in bodies:
        assert validate_sell_refund(json.loads(encode_body(body), parse_float=Decimal)) == []


def test_a_refund_of_more_than_100_positions_is_split_and_the_parts_add_up():
    refund = CASES["split_201_items_and_delivery"]
    bodies = sell_refund_bodies(refund, company=COMPANY, external_id_prefix="r", at=AT)
    assert [len(body["receipt"]["items"]) for body in bodies] == [100, 100, 2]
    assert [body["external_id"] for body in bodies] == ["r-1", "r-2", "r-3"]
    assert sum(body["receipt"]["total"] for body in bodies) == refund.amount
    assert bodies[-1]["receipt"]["items"][-1]["payment_object"] == 4
    for body in bodies:
        receipt = body["receipt"]
        assert receipt["payments"] == [{"type": 1, "sum": receipt["total"]}]


def test_the_timestamp_is_moscow_time():
    (body,) = sell_refund_bodies(source(), company=COMPANY, external_id_prefix="r", at=AT)
    assert body["timestamp"] == "01.03.2026 12:30:05"


def test_the_email_wins_over_the_phone():
    (body,) = sell_refund_bodies(source(phone="+79161234567"), company=COMPANY, external_id_prefix="r", at=AT)
    assert body["receipt"]["client"] == {"email": "buyer@example.com"}


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+375 29 123-45-67", "+375291234567"),
    ],
)
def test_phones_are_normalised(phone, normalised):
    assert normalise_phone(phone) == normalised


def test_every_payment_method_of_the_contract_has_a_payment_type():
    assert set(PAYMENT_TYPES) == {"card", "sbp", "cash_on_delivery", "gift_card", "bonus_points", "bank_transfer"}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"items": (item("Товар", "10.00", 1, "12"),), "amount": Decimal("310.00")}, "VAT rate '12'"),
        ({"currency": "KZT"}, "a Russian receipt is in RUB"),
        ({"email": None, "phone": None}, "neither an e-mail nor a phone"),
        ({"email": None, "phone": "12345"}, "not a Russian number"),
        ({"amount": Decimal("3300.00")}, "add up to 3299.98, the refund amount is 3300.00"),
        ({"payment_method": "barter"}, "no payment type is known"),
    ],
)
def test_a_refund_that_cannot_make_a_valid_receipt_is_refused_with_the_reason(changes, problem):
    with pytest.raises(ReceiptBuildError, match=problem):
        sell_refund_bodies(source(**changes), company=COMPANY, external_id_prefix="r", at=AT)


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
items = st.lists(
    st.builds(
        SourceItem,
        name=st.text(min_size=1, max_size=300).filter(str.strip),
        unit_price=money,
        quantity=st.integers(min_value=1, max_value=10000),
        vat_rate=st.sampled_from(["22", "20", "10", "7", "5", "0", "none"]),
    ),
    min_size=1,
    max_size=250,
)


@settings(max_examples=60, deadline=None)
@given(items=items, delivery=st.one_of(st.just(Decimal(0)), money), method=st.sampled_from(sorted(PAYMENT_TYPES)))
def test_every_body_passes_the_providers_checks_and_the_parts_add_up_to_the_kopeck(items, delivery, method):
    amount = sum((i.unit_price * i.quantity for i in items), Decimal(0)) + delivery
    refund = source(items=tuple(items), delivery_amount=delivery, amount=amount, payment_method=method)
    bodies = sell_refund_bodies(refund, company=COMPANY, external_id_prefix="r", at=AT)
    assert sum(body["receipt"]["total"] for body in bodies) == amount
    for body in bodies:
        assert validate_sell_refund(json.loads(encode_body(body), parse_float=Decimal)) == []


def test_a_phone_the_receipt_cannot_use_is_not_repeated_in_the_reason():
    # The reason becomes the refund's: its refund.update event, the audit trail and the API.
    with pytest.raises(ReceiptBuildError) as caught:
        sell_refund_bodies(source(email=None, phone="+7 912 345-67"), company=COMPANY, external_id_prefix="r", at=AT)
    assert "912" not in str(caught.value)
