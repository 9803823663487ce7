"""Whether the events a refund request causes can fit the broker's message limit.

A request that is accepted must be announced: if one of its events were larger than the topics'
max.message.bytes, the relay could only park it (events.messaging.parking), and the refund would exist
without anyone being told. So the request is refused when it is validated, at the gateway and in the
consumer alike (it is a business rule of bob.refund_requested).

Every event of a refund carries the request's items, and otherwise only fields whose lengths the
models and the specification bound (a refund has at most one tender per payment method). The largest
event a request can cause is therefore at most: the largest event, of either version, of a refund with
no items and every bounded field at its longest, in 4-byte characters (`_largest_event_without_items`),
plus the request's items as version 2 spells them (a superset of version 1's), plus the record's own
overhead (key, headers, batch and record headers). The bound errs on the side of refusing.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings

from events.contracts.envelope import build_message
from events.contracts.errors import FieldError
from events.contracts.specification import default_specification
from refundtool.countries import COUNTRIES
from refundtool.models import Refund
from refundtool.payloads import (
    RefundParts,
    item_ready_to_refund_data,
    item_ready_to_refund_v2_data,
    money,
    money_refunded_data,
    refund_update_data,
    refund_update_v2_data,
)
from refundtool.states import FiscalStatus, ItemPaymentMethod, Measure, PaymentMethod, RefundStatus, TenderStatus
from refundtool.validation import DEFAULT_PAYMENT_OBJECT

# Batch header (61 bytes), record header, the key (an order number, at most 64 characters) and the
# eid and event_type headers: well under this.
RECORD_OVERHEAD_BYTES = 512
_WIDE = "\U0001f600"  # the most bytes a character can take in UTF-8
_LONGEST_MONEY = Decimal("999999999999.99")  # the specification's money pattern: 12 digits, 2 decimals
# The widest spelling of a marking code's serial: 20 characters that JSON escapes to two bytes each.
_WIDEST_SERIAL = '"' * 20


def _longest(values: list[str]) -> str:
    return max(values, key=len)


# An absent measure or payment method is published as its default; the longest value stands in for it.
# Worked out once: Django's Choices.values builds a new list on every access, which was 40% of the
# gateway's time per event (bench.gateway.instructions).
_LONGEST_MEASURE = _longest(Measure.values)
_LONGEST_ITEM_PAYMENT_METHOD = _longest(ItemPaymentMethod.values)


def _longest_parts() -> RefundParts:
    """No items, and a tender of every method with every field at its longest."""
    tender = {
        "amount": money(_LONGEST_MONEY),
        "status": _longest(TenderStatus.values),
        "payment_transaction_id": _WIDE * 128,
        "failure_reason": _WIDE * 500,
    }
    return RefundParts(items=[], items_v2=[], tenders=[{"method": method, **tender} for method in PaymentMethod.values])


_EVENTS: tuple[tuple[str, int, Callable[[Refund], dict[str, Any]]], ...] = (
    ("refund.update", 1, lambda refund: refund_update_data(refund, _longest(RefundStatus.values), items=[])),
    (
        "refund.update",
        2,
        lambda refund: refund_update_v2_data(refund, _longest(RefundStatus.values), parts=_longest_parts()),
    ),
    ("refund.item_ready_to_refund", 1, lambda refund: item_ready_to_refund_data(refund, items=[])),
    ("refund.item_ready_to_refund", 2, lambda refund: item_ready_to_refund_v2_data(refund, parts=_longest_parts())),
    ("refund.money_refunded", 1, lambda refund: money_refunded_data(refund, items=[])),
)


def refund_request_size_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """The business rule: an error at /data/items when the request's events could exceed the limit.

    It runs after the schema passed, so `items` is a list of item objects.
    """
    limit = settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES
    size = largest_event_bytes(data["items"])
    if size <= limit:
        return []
    return [
        FieldError(
            "/data/items",
            f"the events of this refund could take {size} bytes, over the broker's message limit of {limit} "
            "bytes (REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES): split the refund into several requests",
        )
    ]


def largest_event_bytes(items: list[Mapping[str, Any]]) -> int:
    """The most bytes one record of a refund with these items (as the request gives them) can take."""
    return _largest_event_without_items() + len(orjson.dumps([_as_published(item) for item in items]))


def _as_published(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as version 2 of the events spells it (payloads.items_v2_data), or longer: money with two
    decimals, the defaults of absent fields, each mark with its GTIN and its serial at its widest."""
    marks = [
        {
            "code": mark["code"],
            "gtin": "0" * 14,
            "serial": _WIDEST_SERIAL,
            "quantity": mark.get("quantity", 1),
            "package_quantity": mark.get("package_quantity"),
        }
        for mark in item.get("marks", ())
    ]
    return {
        "item_id": item["item_id"],
        "sku": item["sku"],
        "name": item["name"],
        "quantity": item["quantity"],
        "unit_price": money(Decimal(str(item["unit_price"]))),
        "vat_rate": item["vat_rate"],
        "reason": item["reason"],
        "measure": item.get("measure", _LONGEST_MEASURE),
        "payment_method": item.get("payment_method", _LONGEST_ITEM_PAYMENT_METHOD),
        "payment_object": item.get("payment_object", DEFAULT_PAYMENT_OBJECT),
        "marks": marks,
        "sectoral_props": item.get("sectoral_props", []),
    }


@functools.cache
def _largest_event_without_items() -> int:
    refund = _longest_refund()
    sizes = [
        len(
            orjson.dumps(
                build_message(
                    event_type,
                    data(refund),
                    version=version,
                    country=refund.country,
                    causation_id=uuid.uuid4(),
                    flow_id=_WIDE * _flow_id_max_length(),
                    occurred_at=datetime(2000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                )
            )
        )
        for event_type, version, data in _EVENTS
    ]
    return max(sizes) + RECORD_OVERHEAD_BYTES


def _longest_refund() -> Refund:
    """A refund with every field that its events carry at its longest (the empty list of items aside)."""

    def text(name: str) -> str:
        return _WIDE * Refund._meta.get_field(name).max_length

    moment = datetime(2000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    return Refund(
        order_number=text("order_number"),
        country=_longest(list(COUNTRIES)),
        currency=_longest([country.currency for country in COUNTRIES.values()]),
        amount=_LONGEST_MONEY,
        delivery_amount=_LONGEST_MONEY,
        payment_id=text("payment_id"),
        payment_method=_longest(PaymentMethod.values),
        reason=_WIDE * _reason_max_length(),
        sequence=2**31 - 1,
        payment_transaction_id=text("payment_transaction_id"),
        refunded_at=moment,
        fiscal_status=_longest(FiscalStatus.values),
        fn_number=text("fn_number"),
        fiscal_document_number=text("fiscal_document_number"),
        fiscal_document_attribute=text("fiscal_document_attribute"),
        receipt_datetime=moment,
        ofd_receipt_url=text("ofd_receipt_url"),
        updated_at=moment,
    )


def _reason_max_length() -> int:
    reason = _properties("data")["reason"]
    return next(branch["maxLength"] for branch in reason["anyOf"] if branch["type"] == "string")


def _flow_id_max_length() -> int:
    """The flow id is the incoming event's, which the envelope bounds; the producer is always ours."""
    return _properties("metadata")["flow_id"]["maxLength"]


def _properties(part: str) -> dict[str, Any]:
    return default_specification().get("refund.update").message_schema["properties"][part]["properties"]
