"""The ATOL Online v5 ``sell_refund`` body ("return of income", tag 1054 = 2) of a refund.

Pure functions of a ``ReceiptSource``, a plain snapshot of the refund, so the body of a receipt is
decided once, stored, and sent unchanged on every retry of the same external_id.

Decisions a reader may look for:

- ``client``: the e-mail when the customer has one, else the phone as ``+7XXXXXXXXXX`` (Russian numbers
  in any common spelling: 8 916 ..., 7916..., 916...); a number written with another country code is
  kept as ``+<digits>``.
- ``items``: one position per refund item and one for the delivery (``payment_object`` 4, a service);
  names are cut to the provider's 128 characters; ``measure`` 0 (pieces); ``payment_method``
  ``full_payment``; ``sum`` = price x quantity to the kopeck.
- ``vat.type`` comes from the item's own rate as sold (see ``VAT_TYPES``): goods sold in 2025 keep 20%.
  A rate that a Russian receipt cannot carry (12, 16) is refused, never guessed.
- ``payments``: one payment of the whole total, its type from ``PAYMENT_TYPES``.
- ``vats``: per VAT type, the VAT included in that type's positions (rate / (100 + rate)), rounded
  half up to the kopeck; positions without VAT (``none``) are not listed.
- a receipt holds at most 100 positions, so a larger refund becomes several receipts, positions in
  order, each complete with its own payments, vats and total; the totals add up to the refund amount.
- ``timestamp``: the moment given by the caller, in Moscow time, ``dd.mm.yyyy HH:MM:SS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

MOSCOW = ZoneInfo("Europe/Moscow")
TIMESTAMP_FORMAT = "%d.%m.%Y %H:%M:%S"
MAX_POSITIONS = 100
NAME_MAX = 128
KOPECK = Decimal("0.01")
PAYMENT_OBJECT_GOODS = 1
PAYMENT_OBJECT_SERVICE = 4
MEASURE_PIECES = 0
RECEIPT_CURRENCY = "RUB"

VAT_TYPES: dict[str, str] = {
    "22": "vat22",
    "20": "vat20",  # goods sold before 2026-01-01 are refunded at the rate they were sold at
    "10": "vat10",
    "7": "vat7",
    "5": "vat5",
    "0": "vat0",
    "none": "none",
}
VAT_RATES: dict[str, Decimal] = {f"vat{rate}": Decimal(rate) for rate in (22, 20, 10, 7, 5, 0)}

# Payment type (tag 1031 and its siblings) of the money given back, by the method the customer paid with.
PAYMENT_TYPES: dict[str, int] = {
    "card": 1,  # cashless: back to the card
    "sbp": 1,  # cashless: back through the Faster Payments System
    "bank_transfer": 1,  # cashless: back to the account
    # Payment returns cash-on-delivery money by transfer to the customer's card or account, never
    # in cash, so the return is cashless too.
    "cash_on_delivery": 1,
    "gift_card": 2,  # a gift card is an advance: the refund restores it (prepayment set-off)
    "bonus_points": 4,  # points are a counter-provision, not money
}


class ReceiptBuildError(ValueError):
    """The refund cannot make a valid receipt; sending it would only be refused."""


@dataclass(frozen=True)
class SourceItem:
    name: str
    unit_price: Decimal
    quantity: int
    vat_rate: str


@dataclass(frozen=True)
class ReceiptSource:
    """What a receipt needs to know about a refund."""

    currency: str
    amount: Decimal
    items: tuple[SourceItem, ...]
    delivery_amount: Decimal
    delivery_vat_rate: str
    payment_method: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Company:
    inn: str
    sno: str
    email: str
    payment_address: str

    @classmethod
    def from_settings(cls) -> Company:
        return cls(
            inn=settings.FISCAL_COMPANY_INN,
            sno=settings.FISCAL_COMPANY_SNO,
            email=settings.FISCAL_COMPANY_EMAIL,
            payment_address=settings.FISCAL_COMPANY_PAYMENT_ADDRESS,
        )

    def as_dict(self) -> dict[str, str]:
        return {"email": self.email, "sno": self.sno, "inn": self.inn, "payment_address": self.payment_address}


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+") and not digits.startswith("7") and 6 <= len(digits) <= 19:
        return "+" + digits
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    # Never the number itself: this reason becomes the refund's, and goes on to its refund.update event,
    # the audit trail and the API.
    raise ReceiptBuildError("the customer's phone is not a Russian number (+7 and 10 digits)")


def client_of(source: ReceiptSource) -> dict[str, str]:
    if source.email:
        return {"email": source.email}
    if source.phone:
        return {"phone": normalise_phone(source.phone)}
    raise ReceiptBuildError("the customer has neither an e-mail nor a phone to send the receipt to")


def positions_of(source: ReceiptSource) -> list[dict[str, Any]]:
    positions = [
        _position(item.name, item.unit_price, item.quantity, item.vat_rate, PAYMENT_OBJECT_GOODS)
        for item in source.items
    ]
    if source.delivery_amount > 0:
        positions.append(
            _position("Доставка", source.delivery_amount, 1, source.delivery_vat_rate, PAYMENT_OBJECT_SERVICE)
        )
    return positions


def _position(name: str, price: Decimal, quantity: int, vat_rate: str, payment_object: int) -> dict[str, Any]:
    vat_type = VAT_TYPES.get(vat_rate)
    if vat_type is None:
        raise ReceiptBuildError(f"VAT rate {vat_rate!r} of a position has no Russian VAT type")
    price = price.quantize(KOPECK)
    return {
        "name": name.strip()[:NAME_MAX],
        "price": price,
        "quantity": quantity,
        "measure": MEASURE_PIECES,
        "sum": (price * quantity).quantize(KOPECK, ROUND_HALF_UP),
        "payment_method": "full_payment",
        "payment_object": payment_object,
        "vat": {"type": vat_type},
    }


def vats_of(positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bases: dict[str, Decimal] = {}
    for position in positions:
        vat_type = position["vat"]["type"]
        if vat_type in VAT_RATES:
            bases[vat_type] = bases.get(vat_type, Decimal(0)) + position["sum"]
    return [{"type": vat_type, "sum": vat_included(base, VAT_RATES[vat_type])} for vat_type, base in bases.items()]


def vat_included(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate / (100 + rate)).quantize(KOPECK, ROUND_HALF_UP)


def split_positions(source: ReceiptSource) -> list[list[dict[str, Any]]]:
    """The positions of the refund in order, at most MAX_POSITIONS per receipt; checked against the amount."""
    if source.currency != RECEIPT_CURRENCY:
        raise ReceiptBuildError(f"a Russian receipt is in {RECEIPT_CURRENCY}, the refund is in {source.currency}")
    positions = positions_of(source)
    if not positions:
        raise ReceiptBuildError("the refund has no positions to put on a receipt")
    total = sum((p["sum"] for p in positions), Decimal(0))
    if total != source.amount:
        raise ReceiptBuildError(f"the items and the delivery add up to {total}, the refund amount is {source.amount}")
    return [positions[start : start + MAX_POSITIONS] for start in range(0, len(positions), MAX_POSITIONS)]


def sell_refund_body(
    *,
    positions: list[dict[str, Any]],
    client: dict[str, str],
    payment_method: str,
    company: Company,
    external_id: str,
    at: datetime,
) -> dict[str, Any]:
    payment_type = PAYMENT_TYPES.get(payment_method)
    if payment_type is None:
        raise ReceiptBuildError(f"no payment type is known for the payment method {payment_method!r}")
    total = sum((p["sum"] for p in positions), Decimal(0))
    return {
        "external_id": external_id,
        "timestamp": at.astimezone(MOSCOW).strftime(TIMESTAMP_FORMAT),
        "receipt": {
            "client": client,
            "company": company.as_dict(),
            "items": positions,
            "payments": [{"type": payment_type, "sum": total}],
            "vats": vats_of(positions),
            "total": total,
        },
    }


def sell_refund_bodies(
    source: ReceiptSource, *, company: Company, external_id_prefix: str, at: datetime
) -> list[dict[str, Any]]:
    """Every receipt body of a refund, in part order; external ids are ``<prefix>-<part>``."""
    client = client_of(source)
    parts = split_positions(source)
    return [
        sell_refund_body(
            positions=positions,
            client=client,
            payment_method=source.payment_method,
            company=company,
            external_id=f"{external_id_prefix}-{number}",
            at=at,
        )
        for number, positions in enumerate(parts, start=1)
    ]
