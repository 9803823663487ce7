"""Validation of BOB's refund request (DESIGN §3, helpers/PAYLOADS.md), with errors as JSON pointers.

One reading of the message's ``data``, then the rules, in one code path for everyone:
- the shape (types, lengths, patterns, enums): the JSON Schema says most of it, but the domain must
  be safe to call with anything and parses values its own way (a quantity is a whole number, an
  e-mail what Django's validator takes);
- the business rules the schema cannot express: the country is served, the currency fits it, amounts
  are positive, the amount adds up, item ids are unique. A rule skips a value whose shape is wrong.

``parse_refund_request`` (the consumer's handler) raises every error of both; the registered rule
``refund_request_rule_errors`` (refundtool/wiring.py; the gateway and the consumer run it after the
schema) returns exactly those errors. So the gateway refuses what the consumer would dead-letter.
Error messages name the path and what is expected, never the value sent: values can be personal data.
"""

from __future__ import annotations

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
from refundtool.states import PaymentMethod, VatRate

EVENT_TYPE = "bob.refund_requested"
MAX_ITEMS = 1000
MAX_QUANTITY = 10000
MONEY_PATTERN = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
ORDER_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()-]{6,19}$")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
MONEY_HINT = 'must be a decimal string with at most 2 decimals, like "1499.00"'
# Read once: Django's choices enums build these lists on every access.
PAYMENT_METHODS = list(PaymentMethod.values)
VAT_RATES = list(VatRate.values)
KNOWN_COUNTRIES = sorted(COUNTRIES)
# validate_email's own patterns, bound once: through its lazy regex objects each call costs several
# times more. An address they do not accept still goes to validate_email (localhost, IP literals).
_email_user_match = validate_email.user_regex.match
_email_domain_match = validate_email.domain_regex.match


@dataclass(frozen=True, slots=True)
class RefundItemRequest:
    item_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    vat_rate: str
    reason: str


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

    def fingerprint(self) -> str:
        """Equal for two requests with the same content, however their JSON was spelled.

        The canonical form is that of dataclasses.asdict (stored fingerprints depend on it), built
        without asdict's deep copies, which cost more than the hashing.
        """
        normalised = {name: getattr(self, name) for name in _REQUEST_FIELDS}
        normalised["items"] = [{name: getattr(item, name) for name in _ITEM_FIELDS} for item in self.items]
        normalised["requested_at"] = self.requested_at.astimezone(UTC).isoformat()
        canonical = json.dumps(normalised, sort_keys=True, default=_canonical)
        return hashlib.sha256(canonical.encode()).hexdigest()


_REQUEST_FIELDS = tuple(f.name for f in fields(RefundRequest))
_ITEM_FIELDS = tuple(f.name for f in fields(RefundItemRequest))


def _canonical(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


@dataclass
class _Reading:
    """What could be read from the message: a value per field, None where its shape is wrong."""

    errors: list[FieldError] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)

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
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            reading.fail(f"{item_path}/quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
            quantity = None
        reading.items.append(
            {
                "item_id": reading.text(item, "item_id", item_path, max_length=64),
                "sku": reading.text(item, "sku", item_path, max_length=64),
                "name": reading.text(item, "name", item_path, max_length=255),
                "quantity": quantity,
                "unit_price": reading.money(item, "unit_price", item_path),
                "vat_rate": reading.choice(item, "vat_rate", item_path, allowed=VAT_RATES),
                "reason": reading.text(item, "reason", item_path, max_length=500),
            }
        )


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
    return RefundRequest(
        refund_request_id=values["refund_request_id"],
        order_number=values["order_number"],
        country=values["country"],
        currency=values["currency"],
        customer_email=values.get("customer_email", ""),
        customer_phone=values.get("customer_phone", ""),
        payment_id=values["payment_id"],
        payment_method=values["payment_method"],
        items=tuple(RefundItemRequest(**item) for item in reading.items),
        delivery_amount=values["delivery_amount"],
        amount=values["amount"],
        requested_at=values["requested_at"],
    )
