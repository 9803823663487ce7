"""A local emulator of an ATOL Online v5-style cloud cash register, for development, tests and benchmarks.

It is a real threaded HTTP server. Provider API, under ``/possystem/v5``:

- ``POST /getToken`` ``{"login", "pass"}`` -> ``{"token", "error": null, "timestamp"}``. Wrong credentials:
  HTTP 401, code 12. Tokens expire after ``token_ttl`` seconds and are then refused with HTTP 401, code 11
  (an unknown token too, as after a provider restart).
- ``POST /{group_code}/sell_refund`` and ``POST /{group_code}/sell_refund_correction`` (header ``Token``)
  -> ``{"uuid", "status": "wait", "error": null}``. The body is validated (required fields, formats,
  sums that add up to the kopeck, the payments to the total; FFD 1.2 marking fields: ``mark_code`` of
  one known kind, a ``gs1m`` being the base64 of a GS1 DataMatrix code as the contract reads it
  (``refundtool.validation.marking_code_identity``), with ``mark_processing_mode`` "0", quantity 1,
  ``mark_quantity`` a proper fraction, payment_object 31 or 33 exactly when marked, sectoral
  requisites well-formed; a correction's ``correction_info``: type self or instruction, base date
  dd.mm.yyyy, base number required by an instruction); a bad body is HTTP 400, code 32, with every
  problem listed in ``error.text``. A request repeating a (group_code, external_id) is HTTP 409,
  code 33, carrying the uuid of the first registration.
- ``GET /{group_code}/report/{uuid}`` -> ``wait`` until ``done_after_ms`` passed, then ``done`` with
  generated fiscal attributes, or, for a share ``fail_rate`` of documents, ``fail`` with an error of type
  ``fail_type``: ``timeout`` (the provider's rule: register the receipt again under a new external_id)
  or ``driver`` (final). An unknown uuid is HTTP 404, code 34 (state not found, ask later).

Faults: every provider request first sleeps ``latency_ms``, then is answered HTTP 500 with probability
``error_rate``. On sell_refund a share ``lost_response_share`` of those 500s comes after the document
was registered (the answer is lost, the document exists), which is what external_id deduplication is for.

Control API for tests and benchmarks (no latency, no faults): ``GET /emulator/stats``,
``GET /emulator/receipts/<external_id>`` (the operation, group code, uuid and the body exactly as
registered; 404 when no document has that external_id),
``POST /emulator/config`` (a partial config), ``POST /emulator/reset`` (forget documents, tokens and
counters; takes an optional partial config), ``POST /emulator/expire-tokens``.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from fiscalization.provider import money_as_json_number
from refundtool.validation import marking_code_identity

API_PREFIX = "/possystem/v5"
MOSCOW = ZoneInfo("Europe/Moscow")
TIMESTAMP_FORMAT = "%d.%m.%Y %H:%M:%S"

CODE_TOKEN_EXPIRED = 11
CODE_BAD_CREDENTIALS = 12
CODE_VALIDATION = 32
CODE_DUPLICATE = 33
CODE_STATE_NOT_FOUND = 34
CODE_INTERNAL = 50
CODE_FAIL_TIMEOUT = 40
CODE_FAIL_DRIVER = 41

FAIL_TYPES = ("timeout", "driver")
SNO_VALUES = {"osn", "usn_income", "usn_income_outcome", "esn", "patent"}
PAYMENT_METHODS = {
    "full_prepayment",
    "prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
}
# The VAT rate of each vat.type, in percent; prices include VAT. vat1xx are the "calculated" rates.
VAT_RATES: dict[str, Decimal] = {
    "none": Decimal(0),
    "vat0": Decimal(0),
    **{f"vat{rate}": Decimal(rate) for rate in (5, 7, 10, 20, 22)},
    **{f"vat1{rate:02d}": Decimal(rate) for rate in (5, 7, 10, 20, 22)},
}
# ATOL Online v5's kinds of mark_code (FFD 1.2 tags 1300-1309); gs1m is the GS1 DataMatrix in base64.
MARK_CODE_KINDS = {"unknown", "ean8", "ean13", "itf14", "gs10", "gs1m", "short", "fur", "egais20", "egais30"}
MARKED_PAYMENT_OBJECTS = {31, 33}  # tag 1212: goods (excisable or not) with a marking code
CORRECTION_TYPES = {"self", "instruction"}  # tag 1173
DATE_FORMAT = "%d.%m.%Y"
FEDERAL_ID = re.compile(r"^0[0-9]{2}$")
MAX_ITEMS = 100
MAX_PAYMENTS = 10
KOPECK = Decimal("0.01")
EXTERNAL_ID_MAX = 128
NAME_MAX = 128
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
PHONE = re.compile(r"^\+[0-9]{6,19}$")
INN = re.compile(r"^([0-9]{10}|[0-9]{12})$")


@dataclass
class EmulatorConfig:
    latency_ms: int = 0
    error_rate: float = 0.0
    lost_response_share: float = 0.5
    fail_rate: float = 0.0
    fail_type: str = "driver"
    token_ttl: float = 86400.0
    done_after_ms: int = 500
    login: str = "refundtool"
    password: str = "refundtool"  # noqa: S105 - the emulator's own development credential

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def config_problems(config: EmulatorConfig) -> list[str]:
    problems = []
    for name in ("error_rate", "lost_response_share", "fail_rate"):
        value = getattr(config, name)
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            problems.append(f"{name} must be a number from 0 to 1, not {value!r}")
    for name in ("latency_ms", "done_after_ms", "token_ttl"):
        value = getattr(config, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            problems.append(f"{name} must be a non-negative number, not {value!r}")
    if config.fail_type not in FAIL_TYPES:
        problems.append(f"fail_type must be one of {', '.join(FAIL_TYPES)}, not {config.fail_type!r}")
    return problems


@dataclass
class Document:
    uuid: str
    group_code: str
    external_id: str
    operation: str
    body: dict[str, Any]  # as registered, for GET /emulator/receipts/<external_id>
    total: Decimal
    registered_at: float
    ready_at: float
    outcome: str  # "done" or "fail"
    attributes: dict[str, Any] | None = None


@dataclass
class EmulatorState:
    config: EmulatorConfig
    tokens: dict[str, float] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    by_external_id: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    sell_refund_requests: Counter[str] = field(default_factory=Counter)
    registrations: Counter[str] = field(default_factory=Counter)
    injected_errors: int = 0
    lost_responses: int = 0
    duplicates: int = 0
    rejected: int = 0
    tokens_issued: int = 0
    fiscal_document_number: int = 0
    fn_number: str = field(default_factory=lambda: "99990789" + f"{secrets.randbelow(10**8):08d}")
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            statuses = Counter(self._status(doc, time.monotonic())[0] for doc in self.documents.values())
            return {
                "config": asdict(self.config) | {"password": "***"},
                "documents": len(self.documents),
                "by_status": dict(statuses),
                "requests": dict(self.requests),
                "tokens_issued": self.tokens_issued,
                "injected_errors": self.injected_errors,
                "lost_responses": self.lost_responses,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "external_ids": {
                    external_id: {
                        "sell_refund_requests": self.sell_refund_requests[external_id],
                        "registrations": self.registrations[external_id],
                    }
                    for external_id in self.sell_refund_requests
                },
            }

    def _status(self, doc: Document, now: float) -> tuple[str, dict[str, Any] | None]:
        if now < doc.ready_at:
            return "wait", None
        if doc.outcome == "fail":
            return "fail", None
        if doc.attributes is None:
            self.fiscal_document_number += 1
            doc.attributes = fiscal_attributes(doc, self.fn_number, self.fiscal_document_number)
        return "done", doc.attributes


def fiscal_attributes(doc: Document, fn_number: str, fiscal_document_number: int) -> dict[str, Any]:
    fiscal_document_attribute = secrets.randbelow(9 * 10**9) + 10**9
    return {
        "total": float(doc.total),
        "fns_site": "www.nalog.gov.ru",
        "fn_number": fn_number,
        "shift_number": 1,
        "receipt_datetime": datetime.now(MOSCOW).strftime(TIMESTAMP_FORMAT),
        "fiscal_receipt_number": fiscal_document_number,
        "fiscal_document_number": fiscal_document_number,
        "ecr_registration_number": "0000000001002292",
        "fiscal_document_attribute": fiscal_document_attribute,
        "ofd_receipt_url": (
            f"https://check.ofd.example/rec?fn={fn_number}&fd={fiscal_document_number}&fp={fiscal_document_attribute}"
        ),
    }


# --- Body validation ----------------------------------------------------------------------------


def _money(value: Any, path: str, problems: list[str], *, places: int = 2, positive: bool = False) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        problems.append(f"{path}: a number is required")
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        problems.append(f"{path}: not a number")
        return None
    if amount < 0 or (positive and amount == 0):
        problems.append(f"{path}: must be {'positive' if positive else 'zero or more'}")
    elif amount.as_tuple().exponent < -places:  # type: ignore[operator]
        problems.append(f"{path}: at most {places} decimal places")
    return amount


def _text(value: Any, path: str, problems: list[str], *, max_length: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: a non-empty string is required")
        return None
    if len(value) > max_length:
        problems.append(f"{path}: at most {max_length} characters")
    return value


def _object(value: Any, path: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{path}: an object is required")
        return {}
    return value


def validate_sell_refund(body: Any) -> list[str]:
    """Every problem of a sell_refund body, each as "path: message"; empty when the body is good."""
    return _validate_registration(body, "receipt")


def validate_sell_refund_correction(body: Any) -> list[str]:
    """Every problem of a sell_refund_correction body: the receipt's rules under ``correction``, and its basis."""
    return _validate_registration(body, "correction")


def _validate_registration(body: Any, document_key: str) -> list[str]:
    problems: list[str] = []
    body = _object(body, "body", problems)
    if not body:
        return problems
    _text(body.get("external_id"), "external_id", problems, max_length=EXTERNAL_ID_MAX)
    timestamp = body.get("timestamp")
    try:
        datetime.strptime(timestamp, TIMESTAMP_FORMAT)
    except (TypeError, ValueError):
        problems.append("timestamp: dd.mm.yyyy HH:MM:SS is required")
    document = _object(body.get(document_key), document_key, problems)
    if not document:
        return problems
    if document_key == "correction":
        info = _object(document.get("correction_info"), "correction.correction_info", problems)
        _validate_correction_info(info, problems)
    _validate_document(document, document_key, problems)
    return problems


def _validate_document(document: dict[str, Any], path: str, problems: list[str]) -> None:
    _validate_client(_object(document.get("client"), f"{path}.client", problems), path, problems)
    _validate_company(_object(document.get("company"), f"{path}.company", problems), path, problems)
    items_total, by_vat = _validate_items(document.get("items"), path, problems)
    payments_total = _validate_payments(document.get("payments"), path, problems)
    total = _money(document.get("total"), f"{path}.total", problems, positive=True)
    if total is not None and items_total is not None and total != items_total:
        problems.append(f"{path}.total: {total} is not the sum of the items, {items_total}")
    if total is not None and payments_total is not None and total != payments_total:
        problems.append(f"{path}.payments: they add up to {payments_total}, not to the total {total}")
    if "vats" in document:
        _validate_vats(document["vats"], by_vat, path, problems)


def _validate_correction_info(info: dict[str, Any], problems: list[str]) -> None:
    path = "correction.correction_info"
    if info.get("type") not in CORRECTION_TYPES:
        problems.append(f"{path}.type: one of {', '.join(sorted(CORRECTION_TYPES))} is required")
    try:
        datetime.strptime(info.get("base_date"), DATE_FORMAT)
    except (TypeError, ValueError):
        problems.append(f"{path}.base_date: dd.mm.yyyy is required")
    number = info.get("base_number")
    if number is not None or info.get("type") == "instruction":  # FFD 1.2: an instruction has a number
        _text(number, f"{path}.base_number", problems, max_length=32)


def _validate_client(client: dict[str, Any], document: str, problems: list[str]) -> None:
    email, phone = client.get("email"), client.get("phone")
    if not email and not phone:
        problems.append(f"{document}.client: an email or a phone is required")
    if email and not (isinstance(email, str) and EMAIL.match(email)):
        problems.append(f"{document}.client.email: not an e-mail address")
    if phone and not (isinstance(phone, str) and PHONE.match(phone)):
        problems.append(f"{document}.client.phone: +<country code><number> is required")


def _validate_company(company: dict[str, Any], document: str, problems: list[str]) -> None:
    if not (isinstance(company.get("inn"), str) and INN.match(company["inn"])):
        problems.append(f"{document}.company.inn: 10 or 12 digits are required")
    if company.get("sno") not in SNO_VALUES:
        problems.append(f"{document}.company.sno: one of {', '.join(sorted(SNO_VALUES))} is required")
    if not (isinstance(company.get("email"), str) and EMAIL.match(company["email"])):
        problems.append(f"{document}.company.email: not an e-mail address")
    _text(company.get("payment_address"), f"{document}.company.payment_address", problems, max_length=256)


def _validate_marking(item: dict[str, Any], path: str, problems: list[str]) -> None:
    """FFD 1.2's marking fields of a position: a code of one known kind, processed as a whole, one per position."""
    marked = "mark_code" in item
    if item.get("payment_object") in MARKED_PAYMENT_OBJECTS and not marked:
        problems.append(f"{path}.mark_code: required for payment_object {item['payment_object']} (marked goods)")
    for field_name in ("mark_processing_mode", "mark_quantity"):
        if field_name in item and not marked:
            problems.append(f"{path}.{field_name}: only a position with a mark_code has it")
    if not marked:
        return
    code = _object(item["mark_code"], f"{path}.mark_code", problems)
    kinds = sorted(set(code) & MARK_CODE_KINDS)
    if len(kinds) != 1 or len(code) != 1:
        problems.append(f"{path}.mark_code: exactly one of {', '.join(sorted(MARK_CODE_KINDS))} is required")
    elif kinds == ["gs1m"]:
        if not (isinstance(code["gs1m"], str) and marking_code_identity(code["gs1m"])):
            problems.append(f"{path}.mark_code.gs1m: not the base64 of a GS1 DataMatrix code")
    else:
        _text(code[kinds[0]], f"{path}.mark_code.{kinds[0]}", problems, max_length=256)
    if item.get("payment_object") not in MARKED_PAYMENT_OBJECTS:
        problems.append(f"{path}.payment_object: 31 or 33 is required for a position with a mark_code")
    if item.get("mark_processing_mode") != "0":
        problems.append(f'{path}.mark_processing_mode: "0" is required with a mark_code')
    if item.get("quantity") != 1 or item.get("measure") != 0:
        problems.append(f"{path}.quantity: a position with a mark_code is one piece (quantity 1, measure 0)")
    if "mark_quantity" in item:
        fraction = _object(item["mark_quantity"], f"{path}.mark_quantity", problems)
        numerator, denominator = fraction.get("numerator"), fraction.get("denominator")
        if not (
            isinstance(numerator, int)
            and isinstance(denominator, int)
            and not isinstance(numerator, bool)
            and not isinstance(denominator, bool)
            and 1 <= numerator < denominator
        ):
            problems.append(f"{path}.mark_quantity: whole numbers with 1 <= numerator < denominator are required")


def _validate_sectoral_props(props: Any, path: str, problems: list[str]) -> None:
    if not isinstance(props, list) or not props:
        problems.append(f"{path}: a non-empty list is required")
        return
    for index, raw in enumerate(props):
        prop = _object(raw, f"{path}[{index}]", problems)
        if not (isinstance(prop.get("federal_id"), str) and FEDERAL_ID.match(prop["federal_id"])):
            problems.append(f"{path}[{index}].federal_id: three digits from 001 to 099 are required")
        try:
            datetime.strptime(prop.get("date"), DATE_FORMAT)
        except (TypeError, ValueError):
            problems.append(f"{path}[{index}].date: dd.mm.yyyy is required")
        _text(prop.get("number"), f"{path}[{index}].number", problems, max_length=32)
        _text(prop.get("value"), f"{path}[{index}].value", problems, max_length=256)


def _validate_items(items: Any, document: str, problems: list[str]) -> tuple[Decimal | None, dict[str, Decimal]]:
    by_vat: dict[str, Decimal] = {}
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        problems.append(f"{document}.items: from 1 to {MAX_ITEMS} items are required")
        return None, by_vat
    total: Decimal | None = Decimal(0)
    for index, raw in enumerate(items):
        path = f"{document}.items[{index}]"
        item = _object(raw, path, problems)
        _text(item.get("name"), f"{path}.name", problems, max_length=NAME_MAX)
        price = _money(item.get("price"), f"{path}.price", problems)
        quantity = _money(item.get("quantity"), f"{path}.quantity", problems, places=3, positive=True)
        line_sum = _money(item.get("sum"), f"{path}.sum", problems)
        if not isinstance(item.get("measure"), int) or isinstance(item.get("measure"), bool):
            problems.append(f"{path}.measure: an integer is required")
        if item.get("payment_method") not in PAYMENT_METHODS:
            problems.append(f"{path}.payment_method: unknown")
        if not isinstance(item.get("payment_object"), int) or not 1 <= item["payment_object"] <= 33:
            problems.append(f"{path}.payment_object: an integer from 1 to 33 is required")
        vat_type = _object(item.get("vat"), f"{path}.vat", problems).get("type")
        if vat_type not in VAT_RATES:
            problems.append(f"{path}.vat.type: unknown VAT type {vat_type!r}")
        _validate_marking(item, path, problems)
        if "sectoral_item_props" in item:
            _validate_sectoral_props(item["sectoral_item_props"], f"{path}.sectoral_item_props", problems)
        if price is None or quantity is None or line_sum is None or total is None:
            total = None
            continue
        expected = (price * quantity).quantize(KOPECK, ROUND_HALF_UP)
        if line_sum != expected:
            problems.append(f"{path}.sum: {line_sum} is not price x quantity, {expected}")
        total += line_sum
        if vat_type in VAT_RATES:
            by_vat[vat_type] = by_vat.get(vat_type, Decimal(0)) + line_sum
    return total, by_vat


def _validate_payments(payments: Any, document: str, problems: list[str]) -> Decimal | None:
    if not isinstance(payments, list) or not 1 <= len(payments) <= MAX_PAYMENTS:
        problems.append(f"{document}.payments: from 1 to {MAX_PAYMENTS} payments are required")
        return None
    total: Decimal | None = Decimal(0)
    for index, raw in enumerate(payments):
        path = f"{document}.payments[{index}]"
        payment = _object(raw, path, problems)
        if not isinstance(payment.get("type"), int) or not 0 <= payment["type"] <= 9:
            problems.append(f"{path}.type: an integer from 0 to 9 is required")
        amount = _money(payment.get("sum"), f"{path}.sum", problems, positive=True)
        total = None if amount is None or total is None else total + amount
    return total


def _validate_vats(vats: Any, by_vat: dict[str, Decimal], document: str, problems: list[str]) -> None:
    if not isinstance(vats, list):
        problems.append(f"{document}.vats: a list is required")
        return
    declared = {}
    for index, raw in enumerate(vats):
        vat = _object(raw, f"{document}.vats[{index}]", problems)
        vat_type = vat.get("type")
        amount = _money(vat.get("sum"), f"{document}.vats[{index}].sum", problems)
        if vat_type not in by_vat:
            problems.append(f"{document}.vats[{index}].type: no item has VAT type {vat_type!r}")
        elif amount is not None:
            declared[vat_type] = amount
    for vat_type, base in by_vat.items():
        rate = VAT_RATES[vat_type]
        expected = (base * rate / (100 + rate)).quantize(KOPECK, ROUND_HALF_UP)
        if vat_type in declared and declared[vat_type] != expected:
            problems.append(f"{document}.vats: {vat_type} is {declared[vat_type]}, the items give {expected}")
        elif vat_type not in declared and expected:
            problems.append(f"{document}.vats: {vat_type} is missing ({expected})")


VALIDATORS = {"sell_refund": validate_sell_refund, "sell_refund_correction": validate_sell_refund_correction}
DOCUMENT_KEYS = {"sell_refund": "receipt", "sell_refund_correction": "correction"}


# --- HTTP ---------------------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(MOSCOW).strftime(TIMESTAMP_FORMAT)


def _error(code: int, text: str, error_type: str = "system") -> dict[str, Any]:
    return {"error_id": str(uuid.uuid4()), "code": code, "text": text, "type": error_type}


class EmulatorHandler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "FiscalEmulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        try:
            body = self._read_body()
        except ValueError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": _error(CODE_VALIDATION, str(exc)), "status": "fail"})
            return
        if path.startswith("/emulator/"):
            self._control(method, path.removeprefix("/emulator/"), body)
            return
        parts = path.removeprefix(API_PREFIX).strip("/").split("/") if path.startswith(API_PREFIX + "/") else []
        state = self.server.state
        config = state.config
        if method == "POST" and parts == ["getToken"]:
            endpoint = "getToken"
        elif method == "POST" and len(parts) == 2 and parts[1] in VALIDATORS:
            endpoint = parts[1]
        elif method == "GET" and len(parts) == 3 and parts[1] == "report":
            endpoint = "report"
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": _error(CODE_VALIDATION, f"no such endpoint: {method} {path}")})
            return
        with state.lock:
            state.requests[endpoint] += 1
            if endpoint in VALIDATORS and isinstance(body, dict) and isinstance(body.get("external_id"), str):
                state.sell_refund_requests[body["external_id"]] += 1
        time.sleep(config.latency_ms / 1000)
        inject = random.random() < config.error_rate
        if inject and not (endpoint in VALIDATORS and random.random() < config.lost_response_share):
            self._internal_error()
            return
        if endpoint == "getToken":
            self._get_token(body)
            return
        if not self._token_is_valid():
            return
        if endpoint in VALIDATORS:
            self._register(endpoint, parts[0], body, lose_response=inject)
        else:
            self._report(parts[0], parts[2])

    def _internal_error(self) -> None:
        with self.server.state.lock:
            self.server.state.injected_errors += 1
        self._reply(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            {"error": _error(CODE_INTERNAL, "emulated provider failure"), "status": "fail", "timestamp": _now_text()},
        )

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw, parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None

    def _get_token(self, body: Any) -> None:
        state = self.server.state
        credentials = body if isinstance(body, dict) else {}
        if credentials.get("login") != state.config.login or credentials.get("pass") != state.config.password:
            self._reply(
                HTTPStatus.UNAUTHORIZED,
                {
                    "error": _error(CODE_BAD_CREDENTIALS, "wrong login or password"),
                    "token": "",
                    "timestamp": _now_text(),
                },
            )
            return
        token = secrets.token_hex(16)
        with state.lock:
            state.tokens[token] = time.monotonic() + state.config.token_ttl
            state.tokens_issued += 1
        self._reply(HTTPStatus.OK, {"error": None, "token": token, "timestamp": _now_text()})

    def _token_is_valid(self) -> bool:
        state = self.server.state
        token = self.headers.get("Token", "")
        with state.lock:
            expires_at = state.tokens.get(token)
        if expires_at is not None and time.monotonic() < expires_at:
            return True
        self._reply(
            HTTPStatus.UNAUTHORIZED,
            {"error": _error(CODE_TOKEN_EXPIRED, "the token is expired or unknown"), "timestamp": _now_text()},
        )
        return False

    def _register(self, operation: str, group_code: str, body: Any, *, lose_response: bool) -> None:
        state = self.server.state
        problems = VALIDATORS[operation](body)
        if problems:
            with state.lock:
                state.rejected += 1
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": _error(CODE_VALIDATION, "; ".join(problems)), "status": "fail", "timestamp": _now_text()},
            )
            return
        key = (group_code, body["external_id"])
        now = time.monotonic()
        with state.lock:
            existing = state.by_external_id.get(key)
            if existing is None:
                config = state.config
                document = Document(
                    uuid=str(uuid.uuid4()),
                    group_code=group_code,
                    external_id=body["external_id"],
                    operation=operation,
                    body=body,
                    total=Decimal(str(body[DOCUMENT_KEYS[operation]]["total"])),
                    registered_at=now,
                    ready_at=now + config.done_after_ms / 1000,
                    outcome="fail" if random.random() < config.fail_rate else "done",
                )
                state.documents[document.uuid] = document
                state.by_external_id[key] = document.uuid
                state.registrations[document.external_id] += 1
            else:
                state.duplicates += 1
            if lose_response:
                state.lost_responses += 1
        if lose_response:
            self._internal_error()
        elif existing is not None:
            self._reply(
                HTTPStatus.CONFLICT,
                {
                    "uuid": existing,
                    "status": "fail",
                    "error": _error(
                        CODE_DUPLICATE,
                        f"a receipt with external_id {key[1]} and group_code {group_code} already exists",
                    ),
                    "timestamp": _now_text(),
                },
            )
        else:
            self._reply(
                HTTPStatus.OK, {"uuid": document.uuid, "status": "wait", "error": None, "timestamp": _now_text()}
            )

    def _report(self, group_code: str, document_uuid: str) -> None:
        state = self.server.state
        with state.lock:
            document = state.documents.get(document_uuid)
            if document is not None and document.group_code == group_code:
                status, payload = state._status(document, time.monotonic())
                fail_type = state.config.fail_type
            else:
                document = None
        if document is None:
            self._reply(
                HTTPStatus.NOT_FOUND,
                {"error": _error(CODE_STATE_NOT_FOUND, f"no state for {document_uuid} yet"), "timestamp": _now_text()},
            )
            return
        error = None
        if status == "fail":
            error = (
                _error(CODE_FAIL_TIMEOUT, "not fiscalised in time; resend under a new external_id", "timeout")
                if fail_type == "timeout"
                else _error(CODE_FAIL_DRIVER, "the cash register refused the receipt", "driver")
            )
        self._reply(
            HTTPStatus.OK,
            {
                "uuid": document.uuid,
                "error": error,
                "status": status,
                "payload": payload,
                "timestamp": _now_text(),
                "group_code": group_code,
                "daemon_code": "emulator",
                "device_code": "KKT-EMULATOR",
                "external_id": document.external_id,
                "callback_url": "",
            },
        )

    def _control(self, method: str, action: str, body: Any) -> None:
        state = self.server.state
        if method == "GET" and action == "stats":
            self._reply(HTTPStatus.OK, state.stats())
            return
        if method == "GET" and action.startswith("receipts/"):
            self._registered_body(unquote(action.removeprefix("receipts/")))
            return
        if method != "POST" or action not in {"config", "reset", "expire-tokens"}:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such control endpoint: {method} /emulator/{action}"})
            return
        if action == "expire-tokens":
            with state.lock:
                state.tokens.clear()
            self._reply(HTTPStatus.OK, {"expired": True})
            return
        base = EmulatorConfig() if action == "reset" else state.config
        try:
            config = _updated_config(base, body or {})
        except ValueError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        with state.lock:
            if action == "reset":
                fresh = EmulatorState(config=config)
                for name in (f.name for f in fields(EmulatorState) if f.name not in {"lock", "fn_number"}):
                    setattr(state, name, getattr(fresh, name))
            state.config = config
        self._reply(HTTPStatus.OK, asdict(config) | {"password": "***"})

    def _registered_body(self, external_id: str) -> None:
        state = self.server.state
        with state.lock:
            document = next((d for d in state.documents.values() if d.external_id == external_id), None)
        if document is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no document has the external_id {external_id!r}"})
            return
        self._reply(
            HTTPStatus.OK,
            {
                "external_id": document.external_id,
                "operation": document.operation,
                "group_code": document.group_code,
                "uuid": document.uuid,
                "body": document.body,
            },
        )

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False, default=money_as_json_number).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _updated_config(base: EmulatorConfig, changes: Any) -> EmulatorConfig:
    if not isinstance(changes, dict):
        raise ValueError("the config must be a JSON object")
    known = {f.name for f in fields(EmulatorConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)}")
    values = {key: float(value) if isinstance(value, Decimal) else value for key, value in changes.items()}
    return replace(base, **values)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], config: EmulatorConfig) -> None:
        super().__init__(address, EmulatorHandler)
        self.state = EmulatorState(config=config)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"
