"""The ATOL Online v5 ``sell_refund`` body ("return of income", tag 1054 = 2) of a refund.

Pure functions of a ``ReceiptSource``, a plain snapshot of the refund, so the body of a receipt is
decided once, stored, and sent unchanged on every retry of the same external_id.

Decisions a reader may look for:

- ``client``: the e-mail when the customer has one, else the phone as ``+7XXXXXXXXXX`` (Russian numbers
  in any common spelling: 8 916 ..., 7916..., 916...); a number written with another country code is
  kept as ``+<digits>``.
- ``items``: one position per refund item and one for the delivery (``payment_object`` 4, a service);
  names are cut to the provider's 128 characters; ``measure``, ``payment_method`` and
  ``payment_object`` are the item's (a version 1 item: 0 pieces, ``full_payment``, 1 goods);
  ``sum`` = price x quantity to the kopeck; the item's sectoral requisites (tag 1260) as
  ``sectoral_item_props``, in FFD 1.2's date form dd.mm.yyyy as BOB sends them.
- a marked item (FFD 1.2) becomes one position per marking code: a code identifies one unit, or
  one package, so the position's ``quantity`` is 1 and its ``price`` is what the code's units cost
  (unit price x the mark's quantity). It carries ``mark_code`` ``{"gs1m": <base64 of the scan>}``
  (tag 1163, GS1 DataMatrix as scanned), ``mark_processing_mode`` "0" (tag 2102: the code is
  processed as a whole; BOB does not send it) and, when only part of the code's package goes back,
  ``mark_quantity`` ``{"numerator": units refunded, "denominator": units in the package}`` (tag 1291).
  The positions of an item add up to its price x quantity, so the receipt's total does not move.
- ``vat.type`` comes from the item's own rate as sold (see ``VAT_TYPES``): goods sold in 2025 keep 20%.
  A rate that a Russian receipt cannot carry (12, 16) is refused, never guessed.
- ``payments``: one payment per payment type of the refund's tenders (``PAYMENT_TYPES``; tenders
  of the same type, card and SBP, are one payment), in the order of the tenders. A refund split into
  several receipts gives each receipt its tenders in order, each receipt taking what is left of a
  tender before the next one (so every receipt's payments add up to its total, to the kopeck).
- ``vats``: per VAT type, the VAT included in that type's positions (rate / (100 + rate)), rounded
  half up to the kopeck; positions without VAT (``none``) are not listed.
- a receipt holds at most 100 positions, so a larger refund becomes several receipts, positions in
  order, each complete with its own payments, vats and total; the totals add up to the refund amount.
- ``timestamp``: the moment given by the caller, in Moscow time, ``dd.mm.yyyy HH:MM:SS``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

MOSCOW = ZoneInfo("Europe/Moscow")
TIMESTAMP_FORMAT = "%d.%m.%Y %H:%M:%S"
DATE_FORMAT = "%d.%m.%Y"
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

# The ATOL Online v5 payment type of the money given back, by the tender's method (README, "Fiscal
# receipts": the mapping and its sources). 1 is "electronic" (tag 1081), 2 "prepaid" (tag 1215, the
# set-off of an advance), 4 "other" (tag 1217, a counter-provision).
PAYMENT_TYPES: dict[str, int] = {
    "card": 1,  # cashless: back to the card
    "sbp": 1,  # cashless: back through the Faster Payments System
    "bank_transfer": 1,  # cashless: back to the account
    # Payment returns cash-on-delivery money by transfer to the customer's card or account, never
    # in cash, so the return is cashless too.
    "cash_on_delivery": 1,
    # A gift card was sold as an advance (its own receipt, payment method "advance"); paying with it
    # set that advance off, and the refund puts the amount back on the card: the same set-off.
    "gift_card": 2,
    # Points of a loyalty programme that BOB sends as a tender of the refund (not as a lower price)
    # paid part of the price as a counter-provision, and go back as one.
    "bonus_points": 4,
}
MARK_PROCESSING_MODE = "0"  # tag 2102: the code is processed as a whole (no part of it was sold apart)


class ReceiptBuildError(ValueError):
    """The refund cannot make a valid receipt; sending it would only be refused."""


@dataclass(frozen=True)
class SourceMark:
    code: str  # base64 of the scan
    quantity: int  # units of the item the code covers
    package_quantity: int | None = None  # units of the code's package when only part of it goes back


@dataclass(frozen=True)
class SourceItem:
    name: str
    unit_price: Decimal
    quantity: int
    vat_rate: str
    measure: int = MEASURE_PIECES  # ATOL's number of the unit (tag 2108)
    payment_method: str = "full_payment"  # tag 1214
    payment_object: int = PAYMENT_OBJECT_GOODS  # tag 1212
    sectoral_props: tuple[dict[str, str], ...] = ()  # tag 1260: {federal_id, date, number, value}
    marks: tuple[SourceMark, ...] = ()


@dataclass(frozen=True)
class SourceTender:
    method: str
    amount: Decimal


@dataclass(frozen=True)
class ReceiptSource:
    """What a receipt needs to know about a refund."""

    currency: str
    amount: Decimal
    items: tuple[SourceItem, ...]
    delivery_amount: Decimal
    delivery_vat_rate: str
    tenders: tuple[SourceTender, ...]  # in BOB's order; a version 1 refund has one
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
    positions = [position for item in source.items for position in _item_positions(item)]
    if source.delivery_amount > 0:
        positions.append(
            _position("Доставка", source.delivery_amount, 1, source.delivery_vat_rate, PAYMENT_OBJECT_SERVICE)
        )
    return positions


def _item_positions(item: SourceItem) -> list[dict[str, Any]]:
    fields = {"measure": item.measure, "payment_method": item.payment_method, "payment_object": item.payment_object}
    if not item.marks:
        position = _position(item.name, item.unit_price, item.quantity, item.vat_rate, **fields)
        return [_with_sectoral_props(position, item)]
    positions = []
    for mark in item.marks:
        position = _position(item.name, item.unit_price * mark.quantity, 1, item.vat_rate, **fields)
        position["mark_code"] = {"gs1m": mark.code}
        position["mark_processing_mode"] = MARK_PROCESSING_MODE
        if mark.package_quantity is not None:
            position["mark_quantity"] = {"numerator": mark.quantity, "denominator": mark.package_quantity}
        positions.append(_with_sectoral_props(position, item))
    return positions


def _with_sectoral_props(position: dict[str, Any], item: SourceItem) -> dict[str, Any]:
    if item.sectoral_props:
        position["sectoral_item_props"] = [dict(props) for props in item.sectoral_props]
    return position


def _position(
    name: str,
    price: Decimal,
    quantity: int,
    vat_rate: str,
    payment_object: int,
    *,
    measure: int = MEASURE_PIECES,
    payment_method: str = "full_payment",
) -> dict[str, Any]:
    vat_type = VAT_TYPES.get(vat_rate)
    if vat_type is None:
        raise ReceiptBuildError(f"VAT rate {vat_rate!r} of a position has no Russian VAT type")
    price = price.quantize(KOPECK)
    return {
        "name": name.strip()[:NAME_MAX],
        "price": price,
        "quantity": quantity,
        "measure": measure,
        "sum": (price * quantity).quantize(KOPECK, ROUND_HALF_UP),
        "payment_method": payment_method,
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
    tendered = sum((tender.amount for tender in source.tenders), Decimal(0))
    if tendered != source.amount:
        raise ReceiptBuildError(f"the tenders add up to {tendered}, the refund amount is {source.amount}")
    return [positions[start : start + MAX_POSITIONS] for start in range(0, len(positions), MAX_POSITIONS)]


def tender_shares(tenders: Sequence[SourceTender], parts: list[list[dict[str, Any]]]) -> list[list[SourceTender]]:
    """What each receipt of a split refund says was given back by which tender.

    The receipts take the tenders in order: each one what is left of the current tender before the
    next, so no amount is divided by a ratio and every receipt adds up to the kopeck.
    """
    left = [[tender.method, tender.amount] for tender in tenders]
    shares = []
    for positions in parts:
        due = sum((p["sum"] for p in positions), Decimal(0))
        share = []
        for remaining in left:
            taken = min(due, remaining[1])
            if taken > 0:
                share.append(SourceTender(method=remaining[0], amount=taken))
                remaining[1] -= taken
                due -= taken
        shares.append(share)
    return shares


def payments_of(tenders: Sequence[SourceTender]) -> list[dict[str, Any]]:
    """One payment per payment type, in the tenders' order (card and SBP are both type 1: one payment)."""
    by_type: dict[int, Decimal] = {}
    for tender in tenders:
        payment_type = PAYMENT_TYPES.get(tender.method)
        if payment_type is None:
            raise ReceiptBuildError(f"no payment type is known for the payment method {tender.method!r}")
        by_type[payment_type] = by_type.get(payment_type, Decimal(0)) + tender.amount
    return [{"type": payment_type, "sum": amount} for payment_type, amount in by_type.items()]


def _document(
    *,
    positions: list[dict[str, Any]],
    client: dict[str, str],
    tenders: Sequence[SourceTender],
    company: Company,
) -> dict[str, Any]:
    total = sum((p["sum"] for p in positions), Decimal(0))
    payments = payments_of(tenders)
    if sum((payment["sum"] for payment in payments), Decimal(0)) != total:
        raise ReceiptBuildError(f"the payments of a receipt do not add up to its total {total}")
    return {
        "client": client,
        "company": company.as_dict(),
        "items": positions,
        "payments": payments,
        "vats": vats_of(positions),
        "total": total,
    }


def _timestamp(at: datetime) -> str:
    return at.astimezone(MOSCOW).strftime(TIMESTAMP_FORMAT)


def sell_refund_body(
    *,
    positions: list[dict[str, Any]],
    client: dict[str, str],
    tenders: Sequence[SourceTender],
    company: Company,
    external_id: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "timestamp": _timestamp(at),
        "receipt": _document(positions=positions, client=client, tenders=tenders, company=company),
    }


@dataclass(frozen=True)
class CorrectionBasis:
    """Why a correction is made (FFD 1.2 tag 1173) and the document it rests on (tags 1178, 1179)."""

    type: str  # "self": the seller found the error; "instruction": the tax office ordered it
    base_date: date
    base_number: str


def sell_refund_correction_body(
    source: ReceiptSource, *, basis: CorrectionBasis, company: Company, external_id: str, at: datetime
) -> dict[str, Any]:
    """The ``sell_refund_correction`` body: the refund as its receipt should have registered it.

    One document: a refund of more than MAX_POSITIONS positions is refused (the provider takes at
    most that many per document), support corrects it at the provider.
    """
    parts = split_positions(source)
    if len(parts) > 1:
        raise ReceiptBuildError(f"a correction carries at most {MAX_POSITIONS} positions; the refund has more")
    document = _document(positions=parts[0], client=client_of(source), tenders=source.tenders, company=company)
    correction_info = {"type": basis.type, "base_date": basis.base_date.strftime(DATE_FORMAT)}
    if basis.base_number:
        correction_info["base_number"] = basis.base_number
    return {
        "external_id": external_id,
        "timestamp": _timestamp(at),
        "correction": {"correction_info": correction_info, **document},
    }


def sell_refund_bodies(
    source: ReceiptSource, *, company: Company, external_id_prefix: str, at: datetime
) -> list[dict[str, Any]]:
    """Every receipt body of a refund, in part order; external ids are ``<prefix>-<part>``."""
    client = client_of(source)
    parts = split_positions(source)
    shares = tender_shares(source.tenders, parts)
    return [
        sell_refund_body(
            positions=positions,
            client=client,
            tenders=tenders,
            company=company,
            external_id=f"{external_id_prefix}-{number}",
            at=at,
        )
        for number, (positions, tenders) in enumerate(zip(parts, shares, strict=True), start=1)
    ]
