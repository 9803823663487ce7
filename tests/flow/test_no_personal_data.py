"""Issue 20: customers' e-mails and phones never reach a log line, an event refundtool produces, a
dead-letter header or an error answer, along the whole flow with every process a real OS process:
the gateway (web), consumer, relay, Payment, the fiscal provider's emulator, the Celery worker and
beat, a receipt that succeeds and one that fails, a dead letter and the admin's actions."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from events.contracts.envelope import build_message
from events.gateway.services import producer_credential_create
from events.messaging.embedded_broker import free_port
from events.messaging.models import OutboxMessage
from refundtool.logging import MaskPersonalDataFilter
from refundtool.models import Refund
from refundtool.simulation import fake_refund_request
from refundtool.states import RefundStatus
from tests.flow.conftest import Flow
from tests.support.kafka import read_all
from tests.support.processes import ServiceProcess, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# Each customer's contact, as BOB sends it.
RECEIPT_DONE = {"email": "anna.smirnova@example.ru", "phone": "+7 (912) 345-67-89"}
RECEIPT_FAILS = {"phone": "912 345-67-801"}  # 11 digits that are no Russian number: the builder refuses it
NO_RECEIPT = {"email": "erlan.nurlanov@example.kz", "phone": "+7 701 555 12 34"}
DEAD_LETTER = {"email": "oleg.bondarenko@example.com.ua", "phone": "+380 44 123 45 67"}
REFUSED_BY_GATEWAY = {"email": "ivan petrov@example.ru", "phone": "8 (903) 111-22-33"}
CONTACTS = [RECEIPT_DONE, RECEIPT_FAILS, NO_RECEIPT, DEAD_LETTER, REFUSED_BY_GATEWAY]


def leaks(text: str) -> list[str]:
    """The e-mails and phones (by their last 9 digits, however separated) that appear in `text`."""
    found = [email for contact in CONTACTS if (email := contact.get("email")) and email.lower() in text.lower()]
    digits_only = re.sub(r"[\s().+-]", "", text)
    found += [
        phone
        for contact in CONTACTS
        if (phone := contact.get("phone")) and re.sub(r"\D", "", phone)[-9:] in digits_only
    ]
    return found


@pytest.fixture
def this_process_log() -> Iterator[io.StringIO]:
    """What this process (the admin's requests) writes to its console, through the same filters."""
    [console] = [
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskPersonalDataFilter) for f in h.filters)
    ]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    logging.getLogger().addHandler(handler)
    yield buffer
    logging.getLogger().removeHandler(handler)


def test_no_customer_email_or_phone_leaves_the_places_that_need_it(
    flow: Flow, tmp_path, redis_client, this_process_log
):
    web_port, emulator_port = free_port(), free_port()
    env = {
        **flow.env,
        "FISCAL_PROVIDER_URL": f"http://127.0.0.1:{emulator_port}/possystem/v5",
        "FISCAL_POLL_INTERVAL_SECONDS": "0.2",
    }
    flow.env = env
    flow.start("emulator", "fiscal_emulator", "--port", str(emulator_port), "--done-after-ms", "100")
    flow.start_service()
    celery = [sys.executable, "-m", "celery", "-A", "refundtool"]
    for name, argv in {
        "worker": [
            *celery,
            "worker",
            "--queues",
            "default,fiscal",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        "beat": [*celery, "beat", "--schedule", str(tmp_path / "beat"), "--loglevel", "INFO"],
        "web": [sys.executable, "-m", "refundtool.web", "--port", str(web_port), "--workers", "1", "--threads", "2"],
    }.items():
        flow.processes[name] = ServiceProcess(name, argv, env, tmp_path).start()
    base = f"http://127.0.0.1:{web_port}"
    wait_for(lambda: _get(f"{base}/healthz") == 200, timeout=60, message=flow.logs)
    _, token = producer_credential_create(name="bob-ru", event_types=["bob.refund_requested"])

    done, fails, kazakh = (
        _request(flow, country, contact)
        for country, contact in [("RU", RECEIPT_DONE), ("RU", RECEIPT_FAILS), ("KZ", NO_RECEIPT)]
    )
    status, body = _post(f"{base}/api/events/bob.refund_requested", token, [done, fails, kazakh])
    assert status == 200, body
    refused = _request(flow, "RU", REFUSED_BY_GATEWAY)
    status, refusal = _post(f"{base}/api/events/bob.refund_requested", token, refused)
    assert status == 422, refusal
    # BOB writes to Kafka itself too: a request the consumer refuses becomes a dead letter.
    flow.publish(
        build_message(
            "bob.refund_requested",
            _data(flow, "RU", DEAD_LETTER) | {"amount": "1.00"},
            country="RU",
            producer="bob",
            version=1,
        )
    )

    def status_of(message: dict) -> str | None:
        return (
            Refund.objects.filter(order_number=message["data"]["order_number"]).values_list("status", flat=True).first()
        )

    wait_for(
        lambda: (
            (status_of(done), status_of(fails), status_of(kazakh))
            == (RefundStatus.COMPLETED, RefundStatus.FISCAL_FAILED, RefundStatus.COMPLETED)
        ),
        timeout=120,
        message=flow.logs,
    )
    [letter] = read_all("bob.refund_requested.v1.dlq", expect=1)

    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123"))
    failed = Refund.objects.get(order_number=fails["data"]["order_number"])
    acts = reverse("admin:refundtool_refund_act", args=[failed.pk, "retry-fiscal"])
    assert admin.post(acts, {"reason": f"customer confirmed {RECEIPT_FAILS['phone']}"}).status_code == 302
    wait_for(
        lambda: failed.transitions.count() == failed.sequence + 2 and status_of(fails) == RefundStatus.FISCAL_FAILED,
        timeout=60,
        message=flow.logs,
    )
    resolve = reverse("admin:refundtool_refund_act", args=[failed.pk, "resolve"])
    assert (
        admin.post(resolve, {"reason": "receipt sent by hand to +7 (912) 345-67-89", "target": "completed"}).status_code
        == 302
    )
    discard = reverse(
        "admin:events_deadletter_decide", args=[letter.topic(), letter.partition(), letter.offset(), "discard"]
    )
    assert admin.post(discard, {"reason": f"BOB resends it; asked {DEAD_LETTER['email']}"}).status_code == 302
    wait_for(
        lambda: not OutboxMessage.objects.filter(published_at__isnull=True).exists(), timeout=60, message=flow.logs
    )
    for name in ("consumer", "relay", "payment", "worker", "beat", "web", "emulator"):
        flow.processes[name].stop()

    # The scan finds what it looks for where it belongs: the refund rows keep the contacts.
    assert leaks(str(list(Refund.objects.values_list("customer_email", "customer_phone"))))
    logs = {name: process.log_path.read_text(errors="replace") for name, process in flow.processes.items()}
    logs["this process (admin)"] = this_process_log.getvalue()
    assert all(logs[name] for name in ("consumer", "worker", "web")), (
        "a process logged nothing: the scan would prove nothing"
    )
    assert {name: leaks(text) for name, text in logs.items() if leaks(text)} == {}
    # Every version of every event refundtool produced: what its outbox holds.
    topics = set(OutboxMessage.objects.values_list("topic", flat=True))
    produced = {topic: read_all(topic, expect=OutboxMessage.objects.filter(topic=topic).count()) for topic in topics}
    assert sum(len(records) for records in produced.values()) == OutboxMessage.objects.count()
    for topic, records in produced.items():
        for record in records:
            assert not leaks(record.value().decode() + repr(record.headers())), (topic, record.value())
    headers = {key: value.decode() for key, value in letter.headers()}
    assert headers["dlq.error.message"]
    assert not leaks(json.dumps(headers, ensure_ascii=False)), headers
    assert not leaks(refusal), refusal
    reasons = " ".join(failed.transitions.values_list("reason", flat=True))
    assert not leaks(reasons), reasons


def _data(flow: Flow, country: str, contact: dict[str, str]) -> dict:
    return fake_refund_request(flow.rng, country=country) | {"customer": contact}


def _request(flow: Flow, country: str, contact: dict[str, str]) -> dict:
    return build_message(
        "bob.refund_requested", _data(flow, country, contact), country=country, producer="bob-ru", version=1
    )


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our loopback web process
            return response.status
    except OSError:
        return 0


def _post(url: str, token: str, body: object) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - our loopback web process
        url, data=orjson.dumps(body), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
