"""What the fault suite sends (good refund requests at a steady rate, and poison) and what it counts."""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer
from django.db import InterfaceError, OperationalError, connection

from bench.faults.service import MAX_MESSAGE_BYTES
from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config, unconfirmed
from refundtool.simulation import REQUEST_VERSION, fake_refund_request

COUNTRIES = ("RU", "KZ")  # RU owes a fiscal receipt, KZ does not
REQUEST_TOPIC = f"bob.refund_requested.v{REQUEST_VERSION}"
# A frozen or dying broker must not make the run's own writes fail: they wait as long as any outage.
DELIVERY_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class Good:
    phase: str
    eid: str
    refund_request_id: str
    country: str


@dataclass
class Traffic:
    """BOB: writes good refund requests straight to their topic, as BOB's own producer does."""

    producer: Producer = field(
        default_factory=lambda: Producer(
            producer_config(**{"message.timeout.ms": DELIVERY_TIMEOUT_MS, "message.max.bytes": 2 * MAX_MESSAGE_BYTES})
        )
    )
    rng: random.Random = field(default_factory=lambda: random.Random(19))
    delivered: list[Good] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    positions: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # eid -> where the broker put it
    unconfirmed: list[tuple[Any, Any]] = field(default_factory=list)  # (record, its callback) to send again
    resent: int = 0

    @contextmanager
    def steady(self, phase: str, rate: float) -> Iterator[None]:
        """Sends `rate` good requests per second, RU and KZ in turn, while the block runs, then waits for the acks."""
        stop = threading.Event()

        def send() -> None:
            started, sent = time.monotonic(), 0
            while not stop.is_set():
                country = COUNTRIES[sent % len(COUNTRIES)]
                data = fake_refund_request(self.rng, country=country)
                self.send(
                    build_message(
                        "bob.refund_requested", data, country=country, producer="bob", version=REQUEST_VERSION
                    ),
                    phase,
                )
                sent += 1
                stop.wait(max(0.0, started + sent / rate - time.monotonic()))

        thread = threading.Thread(target=send, name=f"traffic-{phase}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.flush()

    def send(self, message: dict[str, Any], phase: str | None) -> None:
        """`phase` None: not a good request (poison), so not counted as one."""
        record = kafka_record(message)
        good = None
        if phase is not None:
            good = Good(
                phase, message["metadata"]["eid"], message["data"]["refund_request_id"], message["data"]["country"]
            )

        def acked(error: KafkaError | None, delivered: Message) -> None:
            if error is not None:
                self.refused.append(f"{record.topic}: {error}")
            elif unconfirmed(delivered):  # BOB sends it again, as the relay and the gateway's clients do
                self.unconfirmed.append((record, acked))
            elif good is not None:
                self.delivered.append(good)
                self.positions[good.eid] = (delivered.topic(), delivered.partition(), delivered.offset())

        self.produce(record.topic, record.key, record.value, record.headers, acked)

    def produce(self, topic: str, key: bytes | None, value: bytes, headers: list, on_delivery: Any = None) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
                self.producer.poll(0)
                return
            except BufferError:
                self.producer.poll(0.1)

    def flush(self) -> None:
        while True:
            if self.producer.flush(DELIVERY_TIMEOUT_MS / 1000):
                raise RuntimeError("the broker did not acknowledge the run's own requests")
            if not self.unconfirmed:
                return
            again, self.unconfirmed = self.unconfirmed, []
            self.resent += len(again)
            for record, callback in again:
                self.produce(record.topic, record.key, record.value, record.headers, callback)

    def of(self, phase: str) -> list[Good]:
        return [good for good in self.delivered if good.phase == phase]


def completed(goods: list[Good]) -> set[str]:
    """The refund_request_ids among `goods` that are completed, an RU one with its receipt done.

    Empty while the database is down: the caller asks again.
    """
    from fiscalization.models import Receipt, ReceiptStatus
    from refundtool.models import Refund
    from refundtool.states import RefundStatus

    ids = [good.refund_request_id for good in goods]
    try:
        done = {
            str(i)
            for i in Refund.objects.filter(refund_request_id__in=ids, status=RefundStatus.COMPLETED).values_list(
                "refund_request_id", flat=True
            )
        }
        receipted = {
            str(i)
            for i in Receipt.objects.filter(refund__refund_request_id__in=ids, status=ReceiptStatus.DONE).values_list(
                "refund__refund_request_id", flat=True
            )
        }
    except (OperationalError, InterfaceError):
        connection.close()
        return set()
    return {
        g.refund_request_id
        for g in goods
        if g.refund_request_id in done and (g.country != "RU" or g.refund_request_id in receipted)
    }


def wait_until_completed(goods: list[Good], timeout: float) -> set[str]:
    """Waits until every one of `goods` is completed, or `timeout`; returns the completed ids."""
    deadline = time.monotonic() + timeout
    done: set[str] = set()
    while time.monotonic() < deadline:
        done = completed(goods)
        if len(done) == len(goods):
            break
        time.sleep(1)
    return done


def where_stuck(goods: list[Good], positions: dict[str, tuple[str, int, int]], group: str) -> list[str]:
    """One line per good request that is not completed: where it stands, to tell a consumer that never
    applied it (with where the broker put it and the group's committed offset there) from a payment
    never answered or a receipt never done."""
    from events.messaging.models import InboxMessage, OutboxMessage
    from events.messaging.offsets import committed_offsets
    from fiscalization.models import Receipt
    from refundtool.models import Refund

    lines = []
    for good in goods:
        refund = Refund.objects.filter(refund_request_id=good.refund_request_id).first()
        if refund is None:
            consumed = InboxMessage.objects.filter(eid=good.eid).exists()
            topic, partition, offset = positions[good.eid]
            committed = committed_offsets(group, [topic]).get((topic, partition))
            lines.append(
                f"{good.phase}: {good.country} request {good.eid}: no refund (in the inbox: {consumed}); "
                f"at {topic}[{partition}] offset {offset}, the group's committed offset there {committed}"
            )
            continue
        receipts = list(Receipt.objects.filter(refund=refund).values_list("status", "attempts", "last_error"))
        unpublished = OutboxMessage.objects.filter(key=refund.order_number, published_at__isnull=True).count()
        lines.append(
            f"{good.phase}: {good.country} request {good.eid}: refund {refund.id} {refund.status}/"
            f"{refund.fiscal_status}, receipts {receipts}, unpublished outbox rows {unpublished}"
        )
    return lines


# --- poison ---------------------------------------------------------------------------------------


def too_large_request(rng: random.Random) -> dict[str, Any]:
    """A BOB request valid but for its size: its events could not fit the broker's limit."""
    from refundtool.event_size import largest_event_bytes

    data = fake_refund_request(rng, country="RU")
    item = data["items"][0]
    items = []
    while largest_event_bytes(items) <= MAX_MESSAGE_BYTES:
        items.append(item | {"item_id": f"big-{len(items)}", "name": "Ж" * 128, "reason": "брак " * 90})
    amount = sum(float(i["unit_price"]) * i["quantity"] for i in items) + float(data["delivery_amount"])
    return data | {"items": items, "amount": f"{amount:.2f}"}


def park_too_large_outbox_row() -> int:
    """An outbox row larger than the broker takes, as a bug in a writer would leave it; returns its id."""
    from events.messaging.models import OutboxMessage

    eid = str(uuid.uuid4())
    pad = secrets.token_urlsafe(2 * MAX_MESSAGE_BYTES)  # random: compression cannot shrink it under the limit
    message = {"metadata": {"eid": eid}, "data": {"refund_id": str(uuid.uuid4()), "order_number": "POISON", "pad": pad}}
    row = OutboxMessage.objects.create(
        eid=eid,
        event_type="refund.update",
        version=1,
        topic="refund.update.v1",
        key="POISON",
        message=message,
        headers={"eid": eid, "event_type": "refund.update"},
    )
    return row.id


def malformed_record(traffic: Traffic) -> str:
    """A request that is no JSON and so large that its dead letter, with the dlq headers, is too large too."""
    eid = f"poison-{uuid.uuid4()}"
    value = b"{" + b"x" * (MAX_MESSAGE_BYTES - 100)
    traffic.produce(REQUEST_TOPIC, b"POISON", value, [("eid", eid.encode())])
    traffic.flush()
    return eid


# --- counting -------------------------------------------------------------------------------------


@dataclass
class Cells:
    doubled: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    receipts_twice: Counter[str] = field(default_factory=Counter)
    letters: dict[str, dict[str, str]] = field(default_factory=dict)  # headers of each letter, by original eid


def count(goods: list[Good], emulator_snapshots: list[dict[str, Any]]) -> Cells:
    """Effects doubled, good requests dead-lettered and receipts registered twice, by phase.

    The topics are read from the beginning; the emulator forgets its documents when it is killed, so
    its registrations are the sum over each of its lives.
    """
    from django.db.models import Count

    from fiscalization.models import Receipt
    from refundtool.models import Refund, RefundTransition
    from tests.support.kafka import read_to_end

    phase_of = {g.refund_request_id: g.phase for g in goods}
    refund_phase = {
        str(refund_id): phase_of[str(request_id)]
        for refund_id, request_id in Refund.objects.filter(refund_request_id__in=list(phase_of)).values_list(
            "id", "refund_request_id"
        )
    }
    doubled = {
        str(row["refund_id"])
        for row in RefundTransition.objects.filter(target="refunded", refund_id__in=list(refund_phase))
        .values("refund_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    }
    announced: dict[str, set[str]] = defaultdict(set)
    for message in read_to_end("refund.money_refunded.v1"):
        payload = orjson.loads(message.value())
        announced[payload["data"]["refund_id"]].add(payload["metadata"]["eid"])
    doubled |= {refund_id for refund_id, eids in announced.items() if len(eids) > 1}
    cells = Cells(doubled=Counter(refund_phase[r] for r in doubled if r in refund_phase))

    eid_phase = {g.eid: g.phase for g in goods}
    from confluent_kafka.admin import AdminClient
    from django.conf import settings

    topics = AdminClient({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS}).list_topics(timeout=10).topics
    for topic in sorted(t for t in topics if t.endswith(".dlq")):
        for letter in read_to_end(topic):
            headers = {key: (value or b"").decode(errors="replace") for key, value in letter.headers() or []}
            cells.letters[headers.get("eid", "")] = headers
            phase = eid_phase.get(headers.get("eid", "")) or refund_phase.get(_refund_id(letter.value()) or "")
            if phase is not None:
                cells.dead_lettered[phase] += 1

    twice = {
        str(row["refund_id"])
        for row in Receipt.objects.filter(refund_id__in=list(refund_phase), registered_at__isnull=False)
        .values("refund_id", "part")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    }
    # external_id is "<refund id>-<part>-<seq>": a part registered under two external ids, or one
    # external id registered twice by one emulator, is a second receipt for the tax office.
    registered: dict[tuple[str, str], set[str]] = defaultdict(set)
    for snapshot in emulator_snapshots:
        for external_id, seen in snapshot["external_ids"].items():
            refund_id, part, _seq = external_id.rsplit("-", 2)
            if seen["registrations"] > 1:
                twice.add(refund_id)
            if seen["registrations"]:
                registered[(refund_id, part)].add(external_id)
    twice |= {refund_id for (refund_id, _part), external_ids in registered.items() if len(external_ids) > 1}
    cells.receipts_twice = Counter(refund_phase[r] for r in twice if r in refund_phase)
    return cells


def _refund_id(value: bytes | None) -> str | None:
    """The refund a letter is about (a payment result's), when its value can be read."""
    try:
        return str(orjson.loads(value or b"")["data"]["refund_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
