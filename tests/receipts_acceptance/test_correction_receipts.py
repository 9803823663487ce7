"""Issue 22 acceptance, correction receipts end to end: support asks for one in the admin, the real Celery
worker registers sell_refund_correction at the emulator over HTTP, and the refund, its audit trail and
the monitoring page show the outcome. Refunds are made refunded through the domain's services."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fiscalization.models import CorrectionReceipt, Receipt, ReceiptStatus
from fiscalization.services import REGISTER_CORRECTION_TASK
from refundtool.celery import app as celery_app
from refundtool.models import Refund
from refundtool.services import refund_request
from refundtool.states import FiscalStatus, RefundStatus
from tests.domain.factories import MARK_CODES, bob, request_v2_data
from tests.fiscal.factories import pay, refunded_refund
from tests.receipts_acceptance.test_v1_v2_receipts import wire
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ACTION = "correction-receipt"
FORM = {"correction_type": "self", "base_date": "2026-03-02", "base_number": "17", "seq": "1"}


def refund_state(refund: Refund) -> tuple[str, str]:
    return tuple(Refund.objects.values_list("status", "fiscal_status").get(pk=refund.pk))


def ask_for_correction(client, refund: Refund, reason: str, **form: str) -> str:
    """Support's confirmation form, posted as the browser posts it; the messages of the page it leads to."""
    url = reverse("admin:refundtool_refund_act", args=[refund.pk, ACTION])
    response = client.post(url, FORM | form | {"reason": reason}, follow=True)
    assert response.status_code == 200
    return " | ".join(str(message) for message in response.context["messages"])


def correction_tiles(client) -> dict[str, str]:
    """Label -> value of the monitoring page's tiles."""
    html = client.get("/admin/monitoring/").content.decode()
    found = re.findall(r'<div class="label">([^<]+)</div>\s*<div class="value">(?:<a [^>]*>)?([^<]+)<', html)
    return {label: value for label, value in found if label.startswith("Correction receipts")}


def correction_done(correction_external_id: str) -> bool:
    return CorrectionReceipt.objects.filter(external_id=correction_external_id, status=ReceiptStatus.DONE).exists()


def failed_past_its_sla(emulator) -> Refund:
    """A v2 refund (card and bonus points, its kettles marked goods, a code each) whose receipt the
    provider failed for good, now past its one-second SLA; the provider is well again afterwards."""
    emulator.configure(fail_rate=1)  # every document fails for good (fail_type driver)
    refund = pay(refund_request(data=request_v2_data(), actor=bob()))
    wait_for(lambda: refund_state(refund)[0] == RefundStatus.FISCAL_FAILED, timeout=20, message="the receipt to fail")
    assert "the provider failed the receipt" in Receipt.objects.get(refund=refund).last_error
    refund.refresh_from_db()
    wait_for(lambda: timezone.now() > refund.refunded_at + timedelta(seconds=1), timeout=5, message="the SLA")
    emulator.configure(fail_rate=0)
    return refund


def test_a_receipt_failed_past_its_sla_is_corrected_from_the_admin_once(quick_fiscal, support):
    emulator = quick_fiscal
    refund = failed_past_its_sla(emulator)
    failed = Receipt.objects.get(refund=refund)

    # The provider is slow: the correction stays under way long enough to be asked for twice.
    emulator.configure(latency_ms=1000)
    page = support.get(reverse("admin:refundtool_refund_act", args=[refund.pk, ACTION]))
    assert page.status_code == 200
    assert "Register a correction receipt" in page.content.decode()
    assert '<input type="hidden" name="seq" value="1"' in page.content.decode()  # the form asks for correction 1
    reason = "receipt failed at the provider past its SLA (INC-77)"
    assert "Register a correction receipt: done" in ask_for_correction(support, refund, reason)
    # The same form again (a second click): refused while the first is under way, nothing new is stored.
    again = ask_for_correction(support, refund, reason)
    assert "was refused" in again
    assert "a correction receipt of it is under way" in again
    [correction] = CorrectionReceipt.objects.filter(refund=refund)
    assert (correction.external_id, correction.requested_by, correction.reason) == (
        f"{refund.id}-c1",
        "support.anna",
        reason,
    )
    assert correction.corrected_receipt == failed
    assert correction_tiles(support)["Correction receipts under way"] == "1"

    # The registration task delivered a second time while the first request is at the provider: the
    # provider keys on the external_id, so it registers one document.
    wait_for(lambda: emulator.stats()["requests"].get("sell_refund_correction"), timeout=10, message="the request")
    celery_app.send_task(REGISTER_CORRECTION_TASK, args=(correction.id,))
    wait_for(lambda: refund_state(refund)[0] == RefundStatus.COMPLETED, timeout=30, message="the refund to complete")

    correction.refresh_from_db()
    assert correction.status == ReceiptStatus.DONE
    stats = emulator.stats()
    # The second delivery reaches the provider only when it beats the first answer (a loaded machine may
    # finish the first before the worker takes the second, which then finds it registered): either
    # way, one document.
    seen = stats["external_ids"][correction.external_id]
    assert seen["registrations"] == 1
    assert seen["sell_refund_requests"] in (1, 2)
    assert stats["requests"]["sell_refund_correction"] == seen["sell_refund_requests"]
    registered = emulator.registered(correction.external_id)
    assert registered["operation"] == "sell_refund_correction"
    assert registered["body"] == wire(correction.body)
    document = registered["body"]["correction"]
    assert document["correction_info"] == {"type": "self", "base_date": "02.03.2026", "base_number": "17"}
    assert [p["mark_code"]["gs1m"] for p in document["items"] if "mark_code" in p] == MARK_CODES[:2]
    assert document["payments"] == [{"type": 1, "sum": 3000.0}, {"type": 4, "sum": 648.5}]
    assert document["total"] == 3648.5

    # The audit trail: fiscalization completed the refund with the correction's attributes, naming who asked.
    refund.refresh_from_db()
    assert (refund.fiscal_status, refund.fiscal_document_number) == (
        FiscalStatus.DONE,
        correction.fiscal_document_number,
    )
    last = refund.transitions.order_by("sequence").last()
    assert (last.source, last.target, last.actor_id) == (
        RefundStatus.FISCAL_FAILED,
        RefundStatus.COMPLETED,
        "fiscalization",
    )
    assert f"correction receipt {correction.external_id} registered (asked by support.anna)" in last.reason
    page = support.get(reverse("admin:refundtool_refund_change", args=[refund.pk])).content.decode()
    assert f"correction 1 ({correction.external_id};" in page
    assert correction_tiles(support) == {"Correction receipts under way": "0", "Correction receipts failed": "0"}

    # The first form sent again after the correction is done (a stale tab, a browser's resend): the
    # refund's receipt is done now, which a second correction could correct, but not from this form.
    stale = ask_for_correction(support, refund, reason)
    assert "was refused" in stale
    assert "the form was for its correction 1, but its next correction is 2" in stale
    assert CorrectionReceipt.objects.filter(refund=refund).count() == 1


def test_a_done_but_wrong_receipt_is_corrected_by_instruction_and_the_refund_keeps_its_receipt(quick_fiscal, support):
    emulator = quick_fiscal
    refund = refunded_refund()
    wait_for(lambda: refund_state(refund)[0] == RefundStatus.COMPLETED, timeout=20, message="the receipt")
    [receipt] = Receipt.objects.filter(refund=refund)
    refund.refresh_from_db()
    before = (refund.status, refund.fiscal_document_number, refund.sequence)

    messages = ask_for_correction(
        support, refund, "the tax office's instruction: wrong VAT", correction_type="instruction", base_number="77-4"
    )
    assert "Register a correction receipt: done" in messages
    [correction] = CorrectionReceipt.objects.filter(refund=refund)
    wait_for(lambda: correction_done(correction.external_id), timeout=20, message="the correction")

    registered = emulator.registered(correction.external_id)
    document = registered["body"]["correction"]
    assert registered["operation"] == "sell_refund_correction"
    assert document["correction_info"] == {"type": "instruction", "base_date": "02.03.2026", "base_number": "77-4"}
    # The correction states the whole refund as its receipt should have been: the same positions and payments.
    original = emulator.registered(receipt.external_id)["body"]["receipt"]
    assert (document["items"], document["payments"], document["total"]) == (
        original["items"],
        original["payments"],
        original["total"],
    )
    refund.refresh_from_db()
    assert (refund.status, refund.fiscal_document_number, refund.sequence) == before  # no transition
    assert correction.corrected_receipt == receipt
