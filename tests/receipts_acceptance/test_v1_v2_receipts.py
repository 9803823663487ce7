"""Issue 22 acceptance, receipts side: a v1 and a v2 producer write at once, RU and KZ, and every request
is refunded with the right receipt, read back from the emulator's stored bodies.

Real processes (consumer, relay, Payment simulator) on the broker, the real Celery worker with the
fiscal emulator over HTTP. The consumer process builds and stores each receipt when Payment's answer
makes the refund refunded; the worker sends it; the emulator keeps the body it registered.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer
from django.utils import timezone

from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config
from fiscalization.builder import (
    Company,
    ReceiptSource,
    SourceItem,
    SourceTender,
    positions_of,
    sell_refund_body,
)
from fiscalization.models import Receipt, ReceiptStatus
from fiscalization.provider import encode_body
from fiscalization.selectors import delivery_vat_rate
from refundtool.models import Refund
from refundtool.simulation import fake_refund_request
from refundtool.states import RefundStatus
from tests.fiscal.samples import gs1m
from tests.support.processes import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECTORAL_PROPS = [{"federal_id": "030", "date": "21.11.2023", "number": "1944", "value": "UUID=flow-test"}]
# The tenders of the RU v2 requests, in turn (v2_request gives the first tender what the others leave).
RU_TENDER_SPLITS = [
    ("card", "gift_card"),
    ("card", "bonus_points"),
    ("sbp",),
    ("gift_card", "card", "bonus_points"),
    ("card", "sbp", "gift_card"),  # card and SBP are both cashless: one payment
]
# README "Marked goods, split tenders": the ATOL v5 payment type of each tender method, written out
# here so that a change of the builder's mapping fails this test.
ATOL_PAYMENT_TYPE = {"card": 1, "sbp": 1, "bank_transfer": 1, "cash_on_delivery": 1, "gift_card": 2, "bonus_points": 4}


def v2_request(rng: random.Random, country: str, index: int) -> dict[str, Any]:
    """A v2 request: the simulation's v1 data with the payment split over tenders and, in RU, marked goods.

    The first item of a RU request is a marked pair of shoes (payment object 33) with a code per unit;
    every other RU request sends the last code as part of a package of 2 (mark_quantity on the receipt).
    """
    data = fake_refund_request(rng, country=country)
    payment = data.pop("payment")
    data["payment_id"] = payment["payment_id"]
    if country == "RU":
        shoes = data["items"][0]
        shoes.update(payment_object=33, measure="piece", sectoral_props=SECTORAL_PROPS)
        shoes["marks"] = [{"code": gs1m(f"f{index}u{unit}")} for unit in range(shoes["quantity"])]
        if index % 2:
            shoes["marks"][-1] |= {"quantity": 1, "package_quantity": 2}
        methods = RU_TENDER_SPLITS[index % len(RU_TENDER_SPLITS)]
    else:
        methods = ("card", "gift_card")
    amount = Decimal(data["amount"])
    # Every tender after the first gets a small fixed share (amounts are at least 100.00), the first the rest.
    shares = [Decimal("10.01") * (n + 1) for n in range(len(methods) - 1)]
    amounts = [amount - sum(shares, Decimal(0)), *shares]
    data["tenders"] = [{"method": m, "amount": f"{a:.2f}"} for m, a in zip(methods, amounts, strict=True)]
    return data


def produce(messages: list[dict[str, Any]]) -> None:
    """One producer (a BOB deployment of one version) writing its messages."""
    producer = Producer(producer_config())
    for message in messages:
        record = kafka_record(message)
        producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
        producer.poll(0)
    assert producer.flush(10) == 0


def wire(body: dict[str, Any]) -> Any:
    """A body as the provider client puts it on the wire (money as JSON numbers)."""
    return json.loads(encode_body(body))


def todays_receipt(data: dict[str, Any]) -> dict[str, Any]:
    """The receipt a v1 request got before issue 22: items with the v1 defaults and one payment of the
    whole amount by its method, built from the request itself rather than from what was stored."""
    items = tuple(
        SourceItem(name=i["name"], unit_price=Decimal(i["unit_price"]), quantity=i["quantity"], vat_rate=i["vat_rate"])
        for i in data["items"]
    )
    source = ReceiptSource(
        currency=data["currency"],
        amount=Decimal(data["amount"]),
        items=items,
        delivery_amount=Decimal(data["delivery_amount"]),
        delivery_vat_rate=delivery_vat_rate(item.vat_rate for item in items),
        tenders=(SourceTender(method=data["payment"]["method"], amount=Decimal(data["amount"])),),
        email=data["customer"].get("email"),
        phone=data["customer"].get("phone"),
    )
    body = sell_refund_body(
        positions=positions_of(source),
        client={"email": source.email},  # the simulation always gives an e-mail
        tenders=source.tenders,
        company=Company.from_settings(),
        external_id="-",
        at=timezone.now(),
    )
    return wire(body)["receipt"]


def expected_payments(tenders: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The split the README documents: one payment per ATOL type, in the tenders' order."""
    by_type: dict[int, Decimal] = {}
    for tender in tenders:
        kind = ATOL_PAYMENT_TYPE[tender["method"]]
        by_type[kind] = by_type.get(kind, Decimal(0)) + Decimal(tender["amount"])
    return [{"type": kind, "sum": float(amount)} for kind, amount in by_type.items()]


def check_marked_receipt(receipt: dict[str, Any], data: dict[str, Any]) -> None:
    """The shoes are one position per code, each carrying its code as sent; the other items none."""
    marks = data["items"][0]["marks"]
    marked = [position for position in receipt["items"] if "mark_code" in position]
    assert [position["mark_code"] for position in marked] == [{"gs1m": mark["code"]} for mark in marks]
    for position, mark in zip(marked, marks, strict=True):
        assert position["mark_processing_mode"] == "0"
        assert (position["quantity"], position["payment_object"]) == (1, 33)
        assert position["sectoral_item_props"] == SECTORAL_PROPS
        if "package_quantity" in mark:
            assert position["mark_quantity"] == {"numerator": 1, "denominator": 2}
        else:
            assert "mark_quantity" not in position
    unmarked = [position for position in receipt["items"] if "mark_code" not in position]
    assert not any({"mark_processing_mode", "mark_quantity"} & position.keys() for position in unmarked)


def test_a_v1_and_a_v2_producer_at_once_every_refund_gets_the_right_receipt(
    flow, fiscal_emulator, celery_worker, settings
):
    settings.FISCAL_POLL_INTERVAL_SECONDS = 0.1  # the worker polls the emulator's report quickly
    rng = random.Random(22)
    v1 = [(1, fake_refund_request(rng, country=country)) for country in ["RU", "KZ", "RU", "RU", "KZ", "RU"]]
    ru_v2 = [(2, v2_request(rng, "RU", index)) for index in range(len(RU_TENDER_SPLITS))]
    v2 = [*ru_v2[:2], (2, v2_request(rng, "KZ", 0)), *ru_v2[2:], (2, v2_request(rng, "KZ", 1))]
    requests = {data["refund_request_id"]: (version, data) for version, data in v1 + v2}

    def messages(batch: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [
            build_message("bob.refund_requested", data, country=data["country"], producer="bob", version=version)
            for version, data in batch
        ]

    flow.start_service()
    # Two producers, one per version, writing at the same moment: the consumer's one group reads both topics.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for written in [pool.submit(produce, messages(v1)), pool.submit(produce, messages(v2))]:
            written.result()

    wait_for(
        lambda: Refund.objects.filter(status=RefundStatus.COMPLETED).count() == len(requests),
        timeout=60,
        message=lambda: f"{Counter(Refund.objects.values_list('status', flat=True))}\n{flow.logs()}",
    )
    refunds = {str(refund.refund_request_id): refund for refund in Refund.objects.all()}
    assert refunds.keys() == requests.keys()
    checked = Counter()
    for request_id, (version, data) in requests.items():
        refund = refunds[request_id]
        receipts = list(Receipt.objects.filter(refund=refund))
        if data["country"] == "KZ":
            assert receipts == [], request_id  # no 54-FZ receipt outside Russia
            continue
        [receipt] = receipts
        assert receipt.status == ReceiptStatus.DONE
        registered = fiscal_emulator.registered(receipt.external_id)
        assert registered["operation"] == "sell_refund"
        assert registered["body"] == wire(receipt.body)  # the stored body went out unchanged
        body = registered["body"]["receipt"]
        if version == 1:
            assert body == todays_receipt(data), request_id
            checked["v1"] += 1
            continue
        check_marked_receipt(body, data)
        assert body["payments"] == expected_payments(data["tenders"]), request_id
        assert sum(Decimal(str(p["sum"])) for p in body["payments"]) == Decimal(str(body["total"]))
        assert Decimal(str(body["total"])) == Decimal(data["amount"])
        checked[f"{len(body['payments'])} payment(s)"] += 1
    # Each case above was met: 4 RU v1; RU v2 split in 2, 2, 1, 3 and 2 (card and SBP together) payments.
    assert checked == {"v1": 4, "1 payment(s)": 1, "2 payment(s)": 3, "3 payment(s)": 1}
    stats = fiscal_emulator.stats()
    assert (stats["documents"], stats["duplicates"]) == (9, 0)
    for name in ("consumer", "relay", "payment"):
        assert flow.processes[name].stop() == 0, flow.logs()
