"""Issue 7 acceptance: a real Celery worker, Redis, PostgreSQL and the emulator over HTTP.

Refunds are made refunded through the domain's services; from there only the worker acts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from fiscalization.models import Receipt, ReceiptStatus
from fiscalization.tasks import register_receipt, sweep_receipts
from refundtool.celery import app
from refundtool.models import Refund
from refundtool.states import RefundStatus
from tests.fiscal.factories import refunded_refund
from tests.support.processes import service_env

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def status_of(refund: Refund) -> str:
    return Refund.objects.values_list("status", flat=True).get(id=refund.id)


def wait_completed(refund: Refund, timeout: float = 30) -> None:
    wait_for(lambda: status_of(refund) == RefundStatus.COMPLETED, timeout=timeout, what=f"{refund} to complete")


def registrations(emulator, receipt: Receipt) -> dict[str, int]:
    return emulator.stats()["external_ids"].get(receipt.external_id, {})


@pytest.fixture
def quick_polls(settings):
    settings.FISCAL_POLL_INTERVAL_SECONDS = 0.1


def test_happy_path(fiscal_emulator, celery_worker, quick_polls):
    refund = refunded_refund()
    wait_completed(refund)
    receipt = Receipt.objects.get(refund=refund)
    assert receipt.status == ReceiptStatus.DONE
    assert receipt.registered_at <= receipt.done_at
    assert registrations(fiscal_emulator, receipt) == {"sell_refund_requests": 1, "registrations": 1}
    refund.refresh_from_db()
    assert refund.fn_number == receipt.fn_number
    assert refund.ofd_receipt_url == receipt.ofd_receipt_url
    last = refund.transitions.order_by("sequence").last()
    assert (last.transition, last.actor_id) == ("register_receipt", "fiscalization")


def test_the_provider_answers_500_for_a_while_then_recovers(fiscal_emulator, celery_worker, quick_polls):
    fiscal_emulator.configure(error_rate=1)
    refund = refunded_refund()
    wait_for(lambda: fiscal_emulator.stats()["injected_errors"] >= 3, what="three failed attempts")
    receipt = Receipt.objects.get(refund=refund)
    assert receipt.status in {ReceiptStatus.PENDING, ReceiptStatus.SENT}
    fiscal_emulator.configure(error_rate=0)
    wait_completed(refund, timeout=60)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.DONE
    assert receipt.last_error == ""
    assert registrations(fiscal_emulator, receipt)["registrations"] == 1
    assert fiscal_emulator.stats()["documents"] == 1


def test_the_token_expires_mid_run(fiscal_emulator, celery_worker, quick_polls):
    fiscal_emulator.configure(done_after_ms=1000)
    first = refunded_refund()
    receipt = Receipt.objects.get(refund=first)
    wait_for(lambda: Receipt.objects.get(id=receipt.id).status == ReceiptStatus.WAIT, what="the registration")
    fiscal_emulator.expire_tokens()  # the poll of the registered receipt now meets code 11
    second = refunded_refund()
    wait_completed(first)
    wait_completed(second)
    stats = fiscal_emulator.stats()
    assert stats["tokens_issued"] == 2
    assert stats["documents"] == 2
    assert not Receipt.objects.exclude(last_error="").exists()


def test_a_task_delivered_twice_registers_once(fiscal_emulator, celery_worker, quick_polls):
    fiscal_emulator.configure(latency_ms=500)
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    wait_for(lambda: registrations(fiscal_emulator, receipt), what="the first request to reach the provider")
    register_receipt.delay(receipt.id)  # the same message again, while the first is in flight
    wait_completed(refund)
    assert registrations(fiscal_emulator, receipt) == {"sell_refund_requests": 2, "registrations": 1}
    stats = fiscal_emulator.stats()
    assert (stats["documents"], stats["duplicates"]) == (1, 1)
    assert Receipt.objects.filter(refund=refund).count() == 1
    refund.refresh_from_db()
    assert refund.transitions.filter(transition="register_receipt").count() == 1


def test_the_provider_down_past_the_deadline_is_a_recorded_and_visible_breach(
    fiscal_emulator, celery_worker, quick_polls, settings
):
    settings.FISCAL_SLA_SECONDS = 1
    breaches_before = REGISTRY.get_sample_value("refundtool_fiscal_sla_breaches_total") or 0
    fiscal_emulator.configure(error_rate=1, lost_response_share=0)
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    wait_for(lambda: timezone.now() > receipt.deadline, what="the deadline")
    sweep_receipts.delay()  # what beat sends every 30 s
    wait_for(lambda: Receipt.objects.get(id=receipt.id).breached_at, what="the breach to be recorded")
    assert REGISTRY.get_sample_value("refundtool_fiscal_sla_breaches_total") == breaches_before + 1

    staff = get_user_model().objects.create_user("oncall", password="x", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    listed = client.get("/api/fiscal/receipts/breached").json()
    assert [row["external_id"] for row in listed["results"]] == [receipt.external_id]
    assert "HTTP 500" in listed["results"][0]["last_error"]

    fiscal_emulator.configure(error_rate=0)
    wait_completed(refund, timeout=60)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.DONE
    assert receipt.breached_at is not None  # a late receipt stays a breach
    assert REGISTRY.get_sample_value("refundtool_fiscal_sla_breaches_total") == breaches_before + 1


@pytest.fixture
def worker_processes(fiscal_emulator, settings) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """`celery -A refundtool worker` as OS processes on the test database, Redis and emulator."""
    env = service_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_REDIS_URL=django_settings.REDIS_URL,
        FISCAL_PROVIDER_URL=fiscal_emulator.api_url,
        FISCAL_POLL_INTERVAL_SECONDS="0.1",
        FISCAL_HTTP_TIMEOUT_SECONDS="2",
        FISCAL_LOST_TASK_SECONDS="1",
    )
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        name = f"fiscal-kill-test-{uuid.uuid4().hex[:8]}@%h"
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "refundtool", "worker", "--pool", "threads"),
                *("--concurrency", "2", "--queues", "fiscal", "--hostname", name),
                *("--without-gossip", "--without-mingle", "--loglevel", "WARNING"),
            ],
            env=env,
            start_new_session=True,
        )
        started.append(process)
        hostname = name.replace("%h", app.conf.get("hostname") or os.uname().nodename)
        wait_for(lambda: app.control.ping(destination=[hostname], timeout=0.5), timeout=60, what="the worker")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@pytest.mark.slow
def test_a_worker_killed_mid_task_registers_the_receipt_exactly_once(fiscal_emulator, worker_processes, settings):
    settings.FISCAL_LOST_TASK_SECONDS = 1
    fiscal_emulator.configure(latency_ms=1500)
    worker = worker_processes()
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    wait_for(lambda: registrations(fiscal_emulator, receipt), what="the worker's request to reach the provider")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    # The provider still registers it: the answer is what got lost.
    wait_for(lambda: registrations(fiscal_emulator, receipt).get("registrations") == 1, what="the registration")
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.SENT
    fiscal_emulator.configure(latency_ms=0)

    worker_processes()
    # The killed worker's message waits for Redis' visibility timeout (an hour); the sweep finds the
    # receipt whose task is overdue and enqueues it again.
    overdue_at = receipt.next_attempt_at + timedelta(seconds=1)  # the lease, then FISCAL_LOST_TASK_SECONDS
    wait_for(lambda: timezone.now() > overdue_at, timeout=20, what="the receipt's task to count as lost")
    sweep_receipts.delay()
    wait_completed(refund)
    assert registrations(fiscal_emulator, receipt) == {"sell_refund_requests": 2, "registrations": 1}
    assert fiscal_emulator.stats()["documents"] == 1
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.DONE
