"""The sell_refund body: golden files for whole bodies, and the rules that each body must keep.

Regenerate the golden files after a deliberate change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscalization.builder import (
    PAYMENT_TYPES,
    Company,
    CorrectionBasis,
    ReceiptBuildError,
    ReceiptSource,
    SourceItem,
    SourceMark,
    SourceTender,
    normalise_phone,
    sell_refund_bodies,
    sell_refund_correction_body,
)
from fiscalization.emulator import validate_sell_refund, validate_sell_refund_correction
from fiscalization.provider import encode_body

GOLDEN = Path(__file__).parent / "golden"
COMPANY = Company(
    inn="7700000001", sno="osn", email="receipts@refundtool.example", payment_address="https://shop.example"
)
# 2026-03-01 09:30:05 UTC is 12:30:05 in Moscow.
AT = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)


def source(*, payment_method: str = "card", **changes) -> ReceiptSource:
    """A refund of one tender by `payment_method` (a version 1 refund) unless `tenders` are given."""
    values = {
        "currency": "RUB",
        "amount": Decimal("3299.98"),
        "items": (SourceItem(name="Чайник электрический", unit_price=Decimal("1499.99"), quantity=2, vat_rate="22"),),
        "delivery_amount": Decimal("300.00"),
        "delivery_vat_rate": "22",
        "email": "buyer@example.com",
        "phone": None,
    } | changes
    values.setdefault("tenders", (SourceTender(payment_method, values["amount"]),))
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


# --- FFD 1.2: marking codes, split tenders, corrections (issue 22) ----------------------------------

SHOES = base64.b64encode(b"0104690123456783215hT9qL2xW8p01\x1d91EE06\x1d92" + b"A" * 44).decode()
SHOES_2 = base64.b64encode(b"0104690123456783215hT9qL2xW8p02").decode()  # the short form: no crypto tail
SOCKS_PACK = base64.b64encode(b"0104690123456783215SOCKPACK10").decode()
PERMIT = {"federal_id": "030", "date": "21.11.2023", "number": "1944", "value": "UUID=fb3c1a0e&Time=1709373600000"}


def marked_source(**changes) -> ReceiptSource:
    """Shoes (two pairs, a code each), 2 of a pack of 10 socks (one code), a kettle without marks."""
    items = (
        SourceItem(
            name="Кроссовки",
            unit_price=Decimal("4990.00"),
            quantity=2,
            vat_rate="22",
            payment_object=33,
            sectoral_props=(PERMIT,),
            marks=(SourceMark(SHOES, 1), SourceMark(SHOES_2, 1)),
        ),
        SourceItem(
            name="Носки",
            unit_price=Decimal("99.99"),
            quantity=2,
            vat_rate="22",
            payment_object=33,
            marks=(SourceMark(SOCKS_PACK, 2, package_quantity=10),),
        ),
        SourceItem(name="Чайник", unit_price=Decimal("1500.00"), quantity=1, vat_rate="22"),
    )
    return source(items=items, delivery_amount=Decimal(0), amount=Decimal("11679.98"), **changes)


def test_a_marked_item_has_a_position_per_code_with_its_ffd_12_fields():
    (body,) = sell_refund_bodies(marked_source(), company=COMPANY, external_id_prefix="r", at=AT)
    shoes_1, shoes_2, socks, kettle = body["receipt"]["items"]
    assert shoes_1 == {
        "name": "Кроссовки",
        "price": Decimal("4990.00"),
        "quantity": 1,
        "measure": 0,
        "sum": Decimal("4990.00"),
        "payment_method": "full_payment",
        "payment_object": 33,
        "vat": {"type": "vat22"},
        "mark_code": {"gs1m": SHOES},
        "mark_processing_mode": "0",
        "sectoral_item_props": [PERMIT],
    }
    assert shoes_2["mark_code"] == {"gs1m": SHOES_2}
    # 2 of the pack's 10 go back: one position, the fraction in mark_quantity, the price of the two.
    assert (socks["quantity"], socks["price"], socks["sum"]) == (1, Decimal("199.98"), Decimal("199.98"))
    assert socks["mark_quantity"] == {"numerator": 2, "denominator": 10}
    assert "mark_code" not in kettle
    assert "sectoral_item_props" not in kettle
    assert body["receipt"]["total"] == Decimal("11679.98")
    assert validate_sell_refund(json.loads(encode_body(body), parse_float=Decimal)) == []


def tenders(*pairs: tuple[str, str]) -> tuple[SourceTender, ...]:
    return tuple(SourceTender(method, Decimal(amount)) for method, amount in pairs)


@pytest.mark.parametrize(
    ("split", "payments"),
    [
        # A card alone, as a version 1 refund: one cashless payment.
        ((("card", "11679.98"),), [(1, "11679.98")]),
        # Card and SBP are both cashless: one payment of type 1.
        ((("card", "10000.00"), ("sbp", "1679.98")), [(1, "11679.98")]),
        # A gift card is the set-off of an advance (type 2), bonus points a counter-provision (type 4).
        (
            (("card", "9000.00"), ("gift_card", "1679.98"), ("bonus_points", "1000.00")),
            [(1, "9000.00"), (2, "1679.98"), (4, "1000.00")],
        ),
        ((("gift_card", "11679.98"),), [(2, "11679.98")]),
        ((("bonus_points", "679.98"), ("cash_on_delivery", "11000.00")), [(4, "679.98"), (1, "11000.00")]),
        ((("bank_transfer", "11679.98"),), [(1, "11679.98")]),
    ],
)
def test_payments_are_split_per_tender_by_payment_type(split, payments):
    (body,) = sell_refund_bodies(marked_source(tenders=tenders(*split)), company=COMPANY, external_id_prefix="r", at=AT)
    assert body["receipt"]["payments"] == [{"type": kind, "sum": Decimal(amount)} for kind, amount in payments]
    assert validate_sell_refund(json.loads(encode_body(body), parse_float=Decimal)) == []


def test_the_receipts_of_a_split_refund_take_the_tenders_in_order():
    refund = CASES["split_201_items_and_delivery"]
    split = tenders(("gift_card", "25000.00"), ("card", "15000.00"), ("bonus_points", "198.00"))
    bodies = sell_refund_bodies(
        source(**{**refund.__dict__, "tenders": split}), company=COMPANY, external_id_prefix="r", at=AT
    )
    totals = [body["receipt"]["total"] for body in bodies]
    assert [[(p["type"], p["sum"]) for p in body["receipt"]["payments"]] for body in bodies] == [
        [(2, totals[0])],
        [(2, Decimal("25000.00") - totals[0]), (1, totals[1] - (Decimal("25000.00") - totals[0]))],
        [(1, totals[2] - Decimal("198.00")), (4, Decimal("198.00"))],
    ]


def test_tenders_that_do_not_add_up_to_the_amount_are_refused():
    with pytest.raises(ReceiptBuildError, match=r"the tenders add up to 100\.00"):
        sell_refund_bodies(
            marked_source(tenders=tenders(("card", "100.00"))), company=COMPANY, external_id_prefix="r", at=AT
        )


def test_a_correction_body_carries_the_refund_and_its_basis():
    body = sell_refund_correction_body(
        marked_source(tenders=tenders(("card", "10679.98"), ("bonus_points", "1000.00"))),
        basis=CorrectionBasis(type="self", base_date=date(2026, 3, 2), base_number="7"),
        company=COMPANY,
        external_id="r-c1",
        at=AT,
    )
    correction = body["correction"]
    assert correction["correction_info"] == {"type": "self", "base_date": "02.03.2026", "base_number": "7"}
    assert correction["payments"] == [{"type": 1, "sum": Decimal("10679.98")}, {"type": 4, "sum": Decimal("1000.00")}]
    assert correction["items"][0]["mark_code"] == {"gs1m": SHOES}
    assert validate_sell_refund_correction(json.loads(encode_body(body), parse_float=Decimal)) == []


def test_a_correction_of_more_than_100_positions_is_refused():
    with pytest.raises(ReceiptBuildError, match="at most 100 positions"):
        sell_refund_correction_body(
            CASES["split_201_items_and_delivery"],
            basis=CorrectionBasis(type="self", base_date=date(2026, 3, 2), base_number="7"),
            company=COMPANY,
            external_id="r-c1",
            at=AT,
        )
