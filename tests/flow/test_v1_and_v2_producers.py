"""Acceptance of issue 22, part 1: a v1 and a v2 producer of bob.refund_requested write at the same
time, in every country, through the consumer, relay and Payment simulator processes. Every request
becomes one refund with its tenders and marks, and what refundtool publishes carries them, in the
versions REFUNDTOOL_PUBLISH_V1_EVENTS asks for."""

from __future__ import annotations

import base64
import random
import string
import threading
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer

from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config
from refundtool.countries import COUNTRIES
from refundtool.models import Refund
from refundtool.simulation import REQUEST_VERSION, fake_refund_request
from tests.flow.conftest import payloads
from tests.support.kafka import read_all
from tests.support.processes import service_env, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
COUNTRY_CODES = ["RU", "KZ", "BY", "UA"]
FINAL = {"refunded", "completed"}  # RU waits for its receipt: no Celery worker runs here
GTIN = "04690123456783"  # with its check digit
PER_PRODUCER = 24


def mark_code(rng: random.Random) -> str:
    """A marking code as BOB sends it: base64 of the scan, identity and crypto tail separated by GS."""
    serial = "".join(rng.choices(string.ascii_letters + string.digits, k=13))
    return base64.b64encode(f"01{GTIN}21{serial}\x1d91EE06\x1d92{'A' * 44}".encode()).decode()


def v2_request_data(rng: random.Random, country: str, *, tenders: int) -> dict[str, Any]:
    """A valid bob.refund_requested v2 `data`: fake_refund_request's, paid back over `tenders`
    methods of the country, some items marked goods with a code per unit."""
    data = fake_refund_request(rng, country=country)
    data["payment_id"] = data.pop("payment")["payment_id"]
    cents = int(Decimal(data["amount"]) * 100)
    cuts = sorted(rng.sample(range(1, cents), tenders - 1))
    parts = [high - low for low, high in zip([0, *cuts], [*cuts, cents], strict=True)]
    methods = rng.sample(COUNTRIES[country].tender_methods, tenders)
    data["tenders"] = [{"method": m, "amount": f"{Decimal(p) / 100:.2f}"} for m, p in zip(methods, parts, strict=True)]
    for index, item in enumerate(data["items"]):
        if index % 2 == 0:  # the first item of every request, so each v2 request has marks
            item.update(payment_object=33, marks=[{"code": mark_code(rng)} for _ in range(item["quantity"])])
    return data


def write_at_once(messages_of_each_producer: list[list[dict]]) -> None:
    """Each producer in its own thread with its own client, all starting together, each flushing often."""
    start = threading.Barrier(len(messages_of_each_producer))
    failures: list[BaseException] = []

    def produce(messages: list[dict]) -> None:
        try:
            producer = Producer(producer_config())
            start.wait(10)
            for index, message in enumerate(messages):
                record = kafka_record(message)
                producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
                if index % 3 == 2:
                    assert producer.flush(10) == 0
            assert producer.flush(10) == 0
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            failures.append(exc)

    threads = [threading.Thread(target=produce, args=(messages,)) for messages in messages_of_each_producer]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures


def snapshots_by_refund(topic: str, expect: int, timeout: float = 20) -> dict[str, list[dict]]:
    snapshots: dict[str, list[dict]] = defaultdict(list)
    for update in payloads(read_all(topic, expect=expect, timeout=timeout)):
        snapshots[update["data"]["refund_id"]].append(update["data"])
    return snapshots


@pytest.mark.parametrize(
    "publish_v1",
    [
        pytest.param(None, id="v1_published_by_default"),
        pytest.param("", id="v1_retired"),
    ],
)
def test_v1_and_v2_producers_at_once_each_request_refunded_once_with_its_tenders_and_marks(flow, publish_v1):
    if publish_v1 is not None:
        flow.env = service_env(REFUNDTOOL_PUBLISH_V1_EVENTS=publish_v1)
    flow.start_service()
    rng = random.Random(22)
    countries = COUNTRY_CODES * (PER_PRODUCER // len(COUNTRY_CODES))
    v1 = [
        build_message(
            "bob.refund_requested",
            fake_refund_request(rng, country=c),
            country=c,
            producer="bob",
            version=REQUEST_VERSION,
        )
        for c in countries
    ]
    # One tender (commanded in both versions while v1 is published) and two or three (v2 only).
    v2 = [
        build_message(
            "bob.refund_requested", v2_request_data(rng, c, tenders=1 + i % 3), country=c, producer="bob", version=2
        )
        for i, c in enumerate(countries)
    ]
    write_at_once([v1, v2])
    requests = {m["data"]["refund_request_id"]: m["data"] for m in v1 + v2}
    n = len(requests)

    wait_for(
        lambda: Refund.objects.filter(status__in=FINAL).count() == n,
        timeout=120,
        message=lambda: f"{Counter(Refund.objects.values_list('status', flat=True))}\n{flow.logs()}",
    )
    refunds = {str(r.refund_request_id): r for r in Refund.objects.prefetch_related("tenders", "marks")}
    assert set(refunds) == set(requests)
    for request_id, data in requests.items():
        refund = refunds[request_id]
        expected_tenders = data.get("tenders") or [{"method": data["payment"]["method"], "amount": data["amount"]}]
        assert [(t.method, f"{t.amount:.2f}", t.status) for t in refund.tenders.all()] == [
            (t["method"], t["amount"], "succeeded") for t in expected_tenders
        ], request_id
        expected_marks = [(i["item_id"], m["code"]) for i in data["items"] for m in i.get("marks", ())]
        assert [(m.item_id, m.code) for m in refund.marks.all()] == expected_marks, request_id
        assert refund.status == ("refunded" if refund.country == "RU" else "completed")
    by_id = {str(r.id): r for r in refunds.values()}
    one_tender = {refund_id for refund_id, r in by_id.items() if len(r.tenders.all()) == 1}
    assert 0 < len(one_tender) < n  # both kinds are there

    # Payment is commanded once per refund in v2; in v1 only a one-tender refund, and only while published.
    commands_v2 = payloads(read_all("refund.item_ready_to_refund.v2", expect=n))
    assert Counter(c["data"]["refund_id"] for c in commands_v2) == Counter(dict.fromkeys(by_id, 1))
    for command in commands_v2:
        refund = by_id[command["data"]["refund_id"]]
        assert command["data"]["tenders"] == [
            {"method": t.method, "amount": f"{t.amount:.2f}"} for t in refund.tenders.all()
        ]
    commands_v1 = payloads(read_all("refund.item_ready_to_refund.v1", expect=len(one_tender) + 1, timeout=5))
    expected_v1_commands = Counter(dict.fromkeys(one_tender, 1)) if publish_v1 is None else Counter()
    assert Counter(c["data"]["refund_id"] for c in commands_v1) == expected_v1_commands
    refunded = payloads(read_all("refund.money_refunded.v1", expect=n))
    assert Counter(m["data"]["refund_id"] for m in refunded) == Counter(dict.fromkeys(by_id, 1))

    # A snapshot per change in v2, each change once; the last shows what Payment reported and the marks.
    changes = sum(r.sequence for r in refunds.values())
    updates = snapshots_by_refund("refund.update.v2", changes)
    for refund_id, refund in by_id.items():
        assert [u["sequence"] for u in updates[refund_id]] == list(range(1, refund.sequence + 1)), refund_id
        last = updates[refund_id][-1]
        assert [(t["method"], t["amount"], t["status"]) for t in last["tenders"]] == [
            (t.method, f"{t.amount:.2f}", "succeeded") for t in refund.tenders.all()
        ]
        assert [m["code"] for i in last["items"] for m in i["marks"]] == [m.code for m in refund.marks.all()]
    if publish_v1 is None:
        updates_v1 = snapshots_by_refund("refund.update.v1", changes)
        assert {refund_id: [u["sequence"] for u in s] for refund_id, s in updates_v1.items()} == {
            refund_id: [u["sequence"] for u in s] for refund_id, s in updates.items()
        }
    else:
        assert snapshots_by_refund("refund.update.v1", 1, timeout=5) == {}
    for name in ("consumer", "relay", "payment"):
        assert flow.processes[name].stop() == 0, flow.logs()
