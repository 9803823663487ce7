"""Validation of BOB's refund request (DESIGN §3, helpers/PAYLOADS.md), with errors as JSON pointers.

One reading of the message's ``data``, then the rules, in one code path for everyone:
- the shape (types, lengths, patterns, enums): the JSON Schema says most of it, but the domain must
  be safe to call with anything and parses values its own way (a quantity is a whole number, an
  e-mail what Django's validator takes);
- the business rules the schema cannot express: the country is served, the currency fits it, amounts
  are positive, the amount adds up, item ids are unique. A rule skips a value whose shape is wrong.

Both versions of bob.refund_requested are read here. A version 2 request is told by its `tenders`
(required in v2, not a field of v1; business rules get only the message's data). Version 2 adds the
split tender (each method once, allowed in the country, adding up to the amount) and per item the
FFD 1.2 receipt fields and marking codes (an item of payment_object 31 or 33 has codes covering its
quantity, any other none; each code a well-formed GS1 DataMatrix, once in the refund). A version 1
request reads as one tender, its payment method for the whole amount, and items without marks.

``parse_refund_request`` (the consumer's handler) raises every error of both; the registered rule
``refund_request_rule_errors`` (refundtool/wiring.py; the gateway and the consumer run it after the
schema) returns exactly those errors. So the gateway refuses what the consumer would dead-letter.
Error messages name the path and what is expected, never the value sent: values can be personal data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from events.contracts.errors import FieldError
from refundtool.countries import COUNTRIES, served_country_codes
from refundtool.exceptions import ValidationError
from refundtool.states import ItemPaymentMethod, Measure, PaymentMethod, VatRate

EVENT_TYPE = "bob.refund_requested"
MAX_ITEMS = 1000
MAX_QUANTITY = 10000
MONEY_PATTERN = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
ORDER_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()-]{6,19}$")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
MONEY_HINT = 'must be a decimal string with at most 2 decimals, like "1499.00"'
VERSION_2_FIELD = "tenders"  # required in version 2, not a field of version 1
MAX_TENDERS = 6
MAX_SECTORAL_PROPS = 10
# FFD 1.2 tag 1212: excisable goods with a marking code (31), goods with a marking code (33).
MARKED_PAYMENT_OBJECTS = (31, 33)
DEFAULT_PAYMENT_OBJECT = 1  # goods
MAX_PAYMENT_OBJECT = 33
MAX_MARK_CODE_LENGTH = 184  # base64 of 136 bytes: the longest code below
GS = "\x1d"  # the GS1 group separator between variable-length fields
# GS1 AI (21): 1 to 20 characters of the GS1 AI encodable character set 82.
_GS1_CHARACTER = r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]"
_IDENTITY = re.compile(rf"01([0-9]{{14}})21({_GS1_CHARACTER}{{1,20}})")
# The crypto tail after the identity: (91) key and (92) signature, or the short (93) one.
_CRYPTO_TAILS = (
    (re.compile(rf"91{_GS1_CHARACTER}{{4}}"), re.compile(rf"92(?:{_GS1_CHARACTER}{{44}}|{_GS1_CHARACTER}{{88}})")),
    (re.compile(rf"93{_GS1_CHARACTER}{{4}}"),),
)
MARK_CODE_HINT = (
    "must be the base64 of a GS1 DataMatrix marking code: (01) GTIN of 14 digits with its check digit, "
    "(21) serial of 1 to 20 characters, then nothing or a crypto tail (91)+(92) or (93), separated by GS"
)
SECTORAL_FIELDS = {"federal_id": 3, "date": 10, "number": 32, "value": 256}
_FEDERAL_ID = re.compile(r"0[0-9]{2}")
_SECTORAL_DATE = re.compile(r"[0-3][0-9]\.[01][0-9]\.[12][0-9]{3}")
MEASURES = list(Measure.values)
ITEM_PAYMENT_METHODS = list(ItemPaymentMethod.values)
# Read once: Django's choices enums build these lists on every access.
PAYMENT_METHODS = list(PaymentMethod.values)
VAT_RATES = list(VatRate.values)
KNOWN_COUNTRIES = sorted(COUNTRIES)
# validate_email's own patterns, bound once: through its lazy regex objects each call costs several
# times more. An address they do not accept still goes to validate_email (localhost, IP literals).
_email_user_match = validate_email.user_regex.match
_email_domain_match = validate_email.domain_regex.match


@dataclass(frozen=True, slots=True)
class MarkRequest:
    code: str  # base64 of the scan, as BOB sent it
    gtin: str  # read from the code: its (01)
    serial: str  # and its (21)
    quantity: int  # units of the item it covers
    package_quantity: int | None  # units of its package, when only part of one is refunded


@dataclass(frozen=True, slots=True)
class TenderRequest:
    method: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundItemRequest:
    item_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    vat_rate: str
    reason: str
    # Version 2 (FFD 1.2); a version 1 item has the defaults.
    measure: str = Measure.PIECE
    payment_method: str = ItemPaymentMethod.FULL_PAYMENT
    payment_object: int = DEFAULT_PAYMENT_OBJECT
    marks: tuple[MarkRequest, ...] = ()
    sectoral_props: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_request_id: uuid.UUID
    order_number: str
    country: str
    currency: str
    customer_email: str
    customer_phone: str
    payment_id: str
    payment_method: str
    items: tuple[RefundItemRequest, ...]
    delivery_amount: Decimal
    amount: Decimal
    requested_at: datetime
    # The first tender is the main one: its method is payment_method. Version 1: (payment_method, amount).
    tenders: tuple[TenderRequest, ...]
    version: int = 1

    def fingerprint(self) -> str:
        """Equal for two requests with the same content, however their JSON was spelled.

        The canonical form of a version 1 request is that of dataclasses.asdict over the fields
        version 1 has (stored fingerprints depend on it), built without asdict's deep copies, which
        cost more than the hashing. A version 2 request adds its version, tenders and item fields, so
        the same refund_request_id sent in both versions is a conflict, not a duplicate.
        """
        v2 = self.version > 1
        normalised = {name: getattr(self, name) for name in (_REQUEST_FIELDS_V2 if v2 else _REQUEST_FIELDS_V1)}
        item_fields = _ITEM_FIELDS_V2 if v2 else _ITEM_FIELDS_V1
        normalised["items"] = [{name: _plain(getattr(item, name)) for name in item_fields} for item in self.items]
        if v2:
            normalised["tenders"] = [_plain(tender) for tender in self.tenders]
        normalised["requested_at"] = self.requested_at.astimezone(UTC).isoformat()
        canonical = json.dumps(normalised, sort_keys=True, default=_canonical)
        return hashlib.sha256(canonical.encode()).hexdigest()


_VERSION_2_ONLY = frozenset({"tenders", "version"})
_REQUEST_FIELDS_V2 = tuple(f.name for f in fields(RefundRequest))
_REQUEST_FIELDS_V1 = tuple(name for name in _REQUEST_FIELDS_V2 if name not in _VERSION_2_ONLY)
_ITEM_FIELDS_V2 = tuple(f.name for f in fields(RefundItemRequest))
_ITEM_FIELDS_V1 = ("item_id", "sku", "name", "quantity", "unit_price", "vat_rate", "reason")


def _plain(value: object) -> object:
    """Marks, tenders and sectoral requisites as JSON-ready values for the fingerprint."""
    if isinstance(value, tuple):
        return [_plain(part) for part in value]
    if isinstance(value, MarkRequest | TenderRequest):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return value


def _canonical(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


@dataclass
class _Reading:
    """What could be read from the message: a value per field, None where its shape is wrong."""

    errors: list[FieldError] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    # Version 2: each tender's (method, amount), None where its shape is wrong.
    tenders: list[tuple[str | None, Decimal | None]] = field(default_factory=list)

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def text(self, obj: Mapping[str, Any], key: str, path: str, *, max_length: int) -> str | None:
        value = obj.get(key)
        if type(value) is str and 1 <= len(value) <= max_length:
            return value
        if value is None:
            self.fail(f"{path}/{key}", "is required")
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            self.fail(f"{path}/{key}", f"must be a string of 1 to {max_length} characters")
            return None
        return value

    def choice(self, obj: Mapping[str, Any], key: str, path: str, *, allowed: list[str]) -> str | None:
        value = obj.get(key)
        if type(value) is str and value in allowed:
            return value
        if value is None:
            self.fail(f"{path}/{key}", "is required")
            return None
        if value not in allowed:
            self.fail(f"{path}/{key}", f"must be one of {', '.join(allowed)}")
            return None
        return value

    def money(self, obj: Mapping[str, Any], key: str, path: str) -> Decimal | None:
        value = obj.get(key)
        if type(value) is str and MONEY_PATTERN.match(value):
            return Decimal(value)
        if value is None:
            self.fail(f"{path}/{key}", "is required")
            return None
        if not isinstance(value, str) or not MONEY_PATTERN.match(value):
            self.fail(f"{path}/{key}", MONEY_HINT)
            return None
        return Decimal(value)

    def whole_number(self, obj: Mapping[str, Any], key: str, path: str, *, minimum: int, maximum: int) -> int | None:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.fail(f"{path}/{key}", f"must be a whole number from {minimum} to {maximum}")
            return None
        return value

    def mapping(self, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        value = obj.get(key)
        if not _is_object(value):
            self.fail(f"{path}/{key}", "is required" if value is None else "must be an object")
            return None
        return value


def _is_object(value: object) -> bool:
    # JSON objects are dicts; isinstance against the Mapping ABC alone costs several times more.
    return type(value) is dict or isinstance(value, Mapping)


def _read(data: Any) -> _Reading:
    """The whole request: typed values, and an error for every value of the wrong shape."""
    reading = _Reading()
    if not _is_object(data):
        reading.fail("/data", "must be an object")
        return reading
    path, values = "/data", reading.values

    raw_id = reading.text(data, "refund_request_id", path, max_length=36)
    if raw_id is not None:
        try:
            values["refund_request_id"] = uuid.UUID(raw_id)
        except ValueError:
            reading.fail(f"{path}/refund_request_id", "must be a UUID")
    order_number = data.get("order_number")
    if isinstance(order_number, str) and ORDER_NUMBER_PATTERN.match(order_number):
        values["order_number"] = order_number
    else:
        reading.fail(f"{path}/order_number", "must be 1 to 64 letters, digits, '_' or '-'")
    values["country"] = reading.choice(data, "country", path, allowed=KNOWN_COUNTRIES)
    currency = data.get("currency")
    if isinstance(currency, str) and CURRENCY_PATTERN.fullmatch(currency):
        values["currency"] = currency
    else:
        reading.fail(f"{path}/currency", "must be an ISO 4217 code of three capital letters")
    _read_customer(reading, data, path)
    if VERSION_2_FIELD in data:
        reading.version = 2
        values["payment_id"] = reading.text(data, "payment_id", path, max_length=64)
        _read_tenders(reading, data.get("tenders"), f"{path}/tenders")
    else:
        payment = reading.mapping(data, "payment", path)
        if payment is not None:
            values["payment_id"] = reading.text(payment, "payment_id", f"{path}/payment", max_length=64)
            values["payment_method"] = reading.choice(payment, "method", f"{path}/payment", allowed=PAYMENT_METHODS)
    _read_items(reading, data.get("items"), f"{path}/items")
    if data.get("delivery_amount") is None:
        values["delivery_amount"] = Decimal("0")
    else:
        values["delivery_amount"] = reading.money(data, "delivery_amount", path)
    values["amount"] = reading.money(data, "amount", path)
    raw_requested_at = data.get("requested_at")
    try:
        requested_at = datetime.fromisoformat(raw_requested_at) if isinstance(raw_requested_at, str) else None
    except ValueError:
        requested_at = None
    if requested_at is None or requested_at.tzinfo is None:
        reading.fail(f"{path}/requested_at", "must be an RFC 3339 date-time with an offset")
    else:
        values["requested_at"] = requested_at
    return reading


def _read_customer(reading: _Reading, data: Mapping[str, Any], path: str) -> None:
    customer = reading.mapping(data, "customer", path)
    if customer is None:
        return
    email, phone = customer.get("email"), customer.get("phone")
    if email is not None:
        if _is_email(email):
            reading.values["customer_email"] = email
        else:
            reading.fail(f"{path}/customer/email", "is not an e-mail address")
    if phone is not None:
        if isinstance(phone, str) and PHONE_PATTERN.match(phone):
            reading.values["customer_phone"] = phone
        else:
            reading.fail(f"{path}/customer/phone", "is not a phone number like +7 999 123-45-67")
    if email is None and phone is None:
        receipt_note = " (54-FZ sends the refund receipt there)" if data.get("country") == "RU" else ""
        reading.fail(f"{path}/customer", f"needs an email or a phone{receipt_note}")


def _is_email(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 254:
        return False
    user, at, domain = value.rpartition("@")
    if at and _email_user_match(user) and _email_domain_match(domain):
        return True
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


def _read_tenders(reading: _Reading, tenders: Any, path: str) -> None:
    if not isinstance(tenders, list) or not 1 <= len(tenders) <= MAX_TENDERS:
        reading.fail(path, f"must be a list of 1 to {MAX_TENDERS} tenders")
        return
    for index, tender in enumerate(tenders):
        if not _is_object(tender):
            reading.fail(f"{path}/{index}", "must be an object")
            reading.tenders.append((None, None))
            continue
        method = reading.choice(tender, "method", f"{path}/{index}", allowed=PAYMENT_METHODS)
        reading.tenders.append((method, reading.money(tender, "amount", f"{path}/{index}")))


def _read_items(reading: _Reading, items: Any, path: str) -> None:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        reading.fail(path, f"must be a list of 1 to {MAX_ITEMS} items")
        return
    for index, item in enumerate(items):
        item_path = f"{path}/{index}"
        if not _is_object(item):
            reading.fail(item_path, "must be an object")
            reading.items.append({})
            continue
        quantity = reading.whole_number(item, "quantity", item_path, minimum=1, maximum=MAX_QUANTITY)
        values = {
            "item_id": reading.text(item, "item_id", item_path, max_length=64),
            "sku": reading.text(item, "sku", item_path, max_length=64),
            "name": reading.text(item, "name", item_path, max_length=255),
            "quantity": quantity,
            "unit_price": reading.money(item, "unit_price", item_path),
            "vat_rate": reading.choice(item, "vat_rate", item_path, allowed=VAT_RATES),
            "reason": reading.text(item, "reason", item_path, max_length=500),
        }
        if reading.version > 1:
            values.update(_read_item_v2(reading, item, item_path))
        reading.items.append(values)


def _read_item_v2(reading: _Reading, item: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The FFD 1.2 fields and marks of a version 2 item, the defaults where they are absent."""
    values: dict[str, Any] = {"measure": Measure.PIECE, "payment_method": ItemPaymentMethod.FULL_PAYMENT}
    for key, allowed in (("measure", MEASURES), ("payment_method", ITEM_PAYMENT_METHODS)):
        if key in item:
            values[key] = reading.choice(item, key, path, allowed=allowed)
    values["payment_object"] = (
        reading.whole_number(item, "payment_object", path, minimum=1, maximum=MAX_PAYMENT_OBJECT)
        if "payment_object" in item
        else DEFAULT_PAYMENT_OBJECT
    )
    values["marks"] = _read_marks(reading, item["marks"], f"{path}/marks") if "marks" in item else ()
    values["sectoral_props"] = (
        _read_sectoral_props(reading, item["sectoral_props"], f"{path}/sectoral_props")
        if "sectoral_props" in item
        else ()
    )
    return values


def _read_marks(reading: _Reading, marks: Any, path: str) -> tuple[MarkRequest | None, ...] | None:
    if not isinstance(marks, list) or not 1 <= len(marks) <= MAX_QUANTITY:
        reading.fail(path, f"must be a list of 1 to {MAX_QUANTITY} marking codes")
        return None
    read: list[MarkRequest | None] = []
    for index, mark in enumerate(marks):
        mark_path = f"{path}/{index}"
        if not _is_object(mark):
            reading.fail(mark_path, "must be an object")
            read.append(None)
            continue
        code, identity = mark.get("code"), None
        if isinstance(code, str):
            identity = marking_code_identity(code)
        if identity is None:
            reading.fail(f"{mark_path}/code", "is required" if code is None else MARK_CODE_HINT)
        quantity = (
            reading.whole_number(mark, "quantity", mark_path, minimum=1, maximum=MAX_QUANTITY)
            if "quantity" in mark
            else 1
        )
        package_quantity = (
            reading.whole_number(mark, "package_quantity", mark_path, minimum=2, maximum=MAX_QUANTITY)
            if "package_quantity" in mark
            else None
        )
        if identity is None or quantity is None or ("package_quantity" in mark and package_quantity is None):
            read.append(None)
            continue
        read.append(MarkRequest(code, identity[0], identity[1], quantity, package_quantity))
    return tuple(read)


def marking_code_identity(code: str) -> tuple[str, str] | None:
    """The (GTIN, serial) of a marking code sent as the base64 of its scan, or None when it is not one.

    Accepted: a GS1 DataMatrix of (01) GTIN (14 digits, valid check digit) and (21) serial, alone
    (the short form) or followed, after GS, by the crypto tail (91) key GS (92) signature, or (93).
    """
    if len(code) > MAX_MARK_CODE_LENGTH:
        return None
    try:
        text = base64.b64decode(code, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    identity, *tail = text.split(GS)
    match = _IDENTITY.fullmatch(identity)
    if match is None or not _gtin_check_digit_fits(match[1]):
        return None
    if tail and not any(
        len(tail) == len(fields_) and all(p.fullmatch(part) for p, part in zip(fields_, tail, strict=True))
        for fields_ in _CRYPTO_TAILS
    ):
        return None
    return match[1], match[2]


def _gtin_check_digit_fits(gtin: str) -> bool:
    """GS1's mod-10 check digit: the digits before it weighted 3, 1, 3, ... from the right."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(gtin[:-1])))
    return (10 - total % 10) % 10 == int(gtin[-1])


def _read_sectoral_props(reading: _Reading, props: Any, path: str) -> tuple[dict[str, str], ...] | None:
    if not isinstance(props, list) or not 1 <= len(props) <= MAX_SECTORAL_PROPS:
        reading.fail(path, f"must be a list of 1 to {MAX_SECTORAL_PROPS} sectoral requisites")
        return None
    read = []
    for index, prop in enumerate(props):
        prop_path = f"{path}/{index}"
        if not _is_object(prop):
            reading.fail(prop_path, "must be an object")
            continue
        values = {key: reading.text(prop, key, prop_path, max_length=length) for key, length in SECTORAL_FIELDS.items()}
        if values["federal_id"] is not None and not _FEDERAL_ID.fullmatch(values["federal_id"]):
            reading.fail(f"{prop_path}/federal_id", 'must be three digits from "001" to "099"')
        if values["date"] is not None and not _SECTORAL_DATE.fullmatch(values["date"]):
            reading.fail(f"{prop_path}/date", "must be a date as dd.mm.yyyy")
        read.append(values)
    return tuple(read)


def _rule_errors(reading: _Reading) -> list[FieldError]:
    errors: list[FieldError] = []
    values = reading.values
    country, currency = values.get("country"), values.get("currency")
    if country is not None and country not in (served := served_country_codes()):
        errors.append(FieldError("/data/country", f"is not served here (served: {', '.join(served)})"))
    if country is not None and currency is not None and COUNTRIES[country].currency != currency:
        expected_currency = COUNTRIES[country].currency
        message = f"does not fit the country: refunds there are in {expected_currency}"
        errors.append(FieldError("/data/currency", message))

    amount, delivery = values.get("amount"), values.get("delivery_amount")
    if amount is not None and amount <= 0:
        errors.append(FieldError("/data/amount", "must be greater than 0"))
    first_index_of: dict[str, int] = {}
    items_total: Decimal | None = Decimal("0")
    for index, item in enumerate(reading.items):
        unit_price, quantity, item_id = item.get("unit_price"), item.get("quantity"), item.get("item_id")
        if unit_price is not None and unit_price <= 0:
            errors.append(FieldError(f"/data/items/{index}/unit_price", "must be greater than 0"))
        if item_id is not None:
            if item_id in first_index_of:
                errors.append(
                    FieldError(
                        f"/data/items/{index}/item_id",
                        f"is the item_id of /data/items/{first_index_of[item_id]} already",
                    )
                )
            first_index_of.setdefault(item_id, index)
        if items_total is not None and unit_price is not None and quantity is not None:
            items_total += unit_price * quantity
        else:
            items_total = None
    expected = None if amount is None or delivery is None or items_total is None else items_total + delivery
    if expected is not None and reading.items and amount != expected:
        # What it must be, computed here; never the value sent (error messages carry no input).
        errors.append(FieldError("/data/amount", f"must be the items plus delivery, {expected:.2f}"))
    if reading.version > 1:
        errors.extend(_tender_rule_errors(reading))
        errors.extend(_mark_rule_errors(reading))
    return errors


def _tender_rule_errors(reading: _Reading) -> list[FieldError]:
    errors: list[FieldError] = []
    country = reading.values.get("country")
    allowed = COUNTRIES[country].tender_methods if country in COUNTRIES else None
    first_index_of: dict[str, int] = {}
    total: Decimal | None = Decimal("0")
    for index, (method, amount) in enumerate(reading.tenders):
        path = f"/data/tenders/{index}"
        if method is not None:
            if method in first_index_of:
                errors.append(
                    FieldError(f"{path}/method", f"is the method of /data/tenders/{first_index_of[method]} already")
                )
            first_index_of.setdefault(method, index)
            if allowed is not None and method not in allowed:
                message = f"is not a way to refund in the request's country (allowed there: {', '.join(allowed)})"
                errors.append(FieldError(f"{path}/method", message))
        if amount is not None and amount <= 0:
            errors.append(FieldError(f"{path}/amount", "must be greater than 0"))
        total = None if total is None or amount is None else total + amount
    if total is not None and reading.tenders and reading.values.get("amount") not in (None, total):
        errors.append(FieldError("/data/tenders", "the tenders' amounts must add up to /data/amount"))
    return errors


def _mark_rule_errors(reading: _Reading) -> list[FieldError]:
    errors: list[FieldError] = []
    first_path_of: dict[tuple[str, str], str] = {}
    for index, item in enumerate(reading.items):
        path = f"/data/items/{index}"
        payment_object, marks, quantity = item.get("payment_object"), item.get("marks"), item.get("quantity")
        if marks is None:  # its shape is wrong: already reported
            continue
        if payment_object in MARKED_PAYMENT_OBJECTS and not marks:
            errors.append(
                FieldError(f"{path}/marks", "is required for an item of payment_object 31 or 33: a code per unit")
            )
        if marks and payment_object is not None and payment_object not in MARKED_PAYMENT_OBJECTS:
            errors.append(
                FieldError(
                    f"{path}/payment_object", "must be 31 or 33 (goods with a marking code) for an item with marks"
                )
            )
        if marks and quantity is not None and None not in marks and sum(m.quantity for m in marks) != quantity:
            errors.append(
                FieldError(f"{path}/marks", "must cover the item's quantity: their quantities must add up to it")
            )
        for mark_index, mark in enumerate(marks):
            if mark is None:
                continue
            mark_path = f"{path}/marks/{mark_index}"
            if mark.package_quantity is not None and mark.package_quantity <= mark.quantity:
                errors.append(FieldError(f"{mark_path}/package_quantity", "must be greater than the mark's quantity"))
            first = first_path_of.setdefault((mark.gtin, mark.serial), mark_path)
            if first != mark_path:
                errors.append(
                    FieldError(f"{mark_path}/code", f"is the code of {first} already: a unit is refunded once")
                )
    return errors


def refund_request_rule_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Every error parse_refund_request raises for `data`: the rule registered for bob.refund_requested."""
    return _errors(_read(data))


def _errors(reading: _Reading) -> list[FieldError]:
    return reading.errors + _rule_errors(reading)


def parse_refund_request(data: Any) -> RefundRequest:
    """The request as typed values, or ValidationError listing every broken rule."""
    reading = _read(data)
    errors = _errors(reading)
    if errors:
        raise ValidationError(errors)
    values = reading.values
    if reading.version > 1:
        tenders = tuple(TenderRequest(method, amount) for method, amount in reading.tenders)
        payment_method = tenders[0].method
    else:
        payment_method = values["payment_method"]
        tenders = (TenderRequest(payment_method, values["amount"]),)
    return RefundRequest(
        refund_request_id=values["refund_request_id"],
        order_number=values["order_number"],
        country=values["country"],
        currency=values["currency"],
        customer_email=values.get("customer_email", ""),
        customer_phone=values.get("customer_phone", ""),
        payment_id=values["payment_id"],
        payment_method=payment_method,
        items=tuple(RefundItemRequest(**item) for item in reading.items),
        delivery_amount=values["delivery_amount"],
        amount=values["amount"],
        requested_at=values["requested_at"],
        tenders=tenders,
        version=reading.version,
    )
