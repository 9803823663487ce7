"""Correction receipts driven step by step against the emulator: request, registration, report, settling, sweep."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from fiscalization.models import CorrectionReceipt, Receipt, ReceiptStatus
from fiscalization.services import (
    _finish_failed,
    correction_poll,
    correction_receipt_request,
    correction_register,
    receipt_poll,
    receipt_register,
    receipts_sweep,
)
from refundtool.exceptions import IllegalTransitionError, ValidationError
from refundtool.services import Actor
from refundtool.states import FiscalStatus, RefundStatus
from tests.fiscal.factories import pay, refunded_refund, requested_refund
from tests.fiscal.test_receipts import register_and_finish

pytestmark = pytest.mark.django_db

SUPPORT = Actor.user("olga")


def failed_past_the_sla(settings):
    """A refund whose receipt failed for good, its SLA deadline long gone."""
    refund = pay(requested_refund(), processed_at=timezone.now() - timedelta(seconds=settings.FISCAL_SLA_SECONDS + 60))
    _finish_failed(Receipt.objects.get(refund=refund), reason="the cash register refused the receipt")
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED
    return refund


def ask(refund, **changes) -> CorrectionReceipt:
    values = {
        "correction_type": "self",
        "base_date": date(2026, 3, 2),
        "base_number": "17",
        "reason": "the receipt failed past the SLA",
    } | changes
    return correction_receipt_request(refund_id=refund.id, actor=SUPPORT, **values)


def finish(correction: CorrectionReceipt) -> CorrectionReceipt:
    correction_register(correction_id=correction.id)
    correction.refresh_from_db()
    assert correction.status == ReceiptStatus.WAIT, correction.last_error
    deadline = time.monotonic() + 10
    while correction.status == ReceiptStatus.WAIT and time.monotonic() < deadline:
        correction_poll(correction_id=correction.id)
        correction.refresh_from_db()
        time.sleep(0.02)
    return correction


def test_a_failed_receipt_past_its_sla_is_corrected_and_the_refund_completes(fiscal_emulator, settings):
    refund = failed_past_the_sla(settings)
    correction = ask(refund)
    assert correction.external_id == f"{refund.id}-c1"
    assert (correction.requested_by, correction.reason) == ("olga", "the receipt failed past the SLA")
    assert correction.corrected_receipt == Receipt.objects.get(refund=refund)
    assert correction.deadline == correction.requested_at + timedelta(seconds=settings.FISCAL_CORRECTION_SLA_SECONDS)
    correction = finish(correction)
    assert correction.status == ReceiptStatus.DONE
    registered = fiscal_emulator.registered(correction.external_id)
    assert registered["operation"] == "sell_refund_correction"
    assert registered["body"]["correction"]["correction_info"] == {
        "type": "self",
        "base_date": "02.03.2026",
        "base_number": "17",
    }
    refund.refresh_from_db()
    assert (refund.status, refund.fiscal_status) == (RefundStatus.COMPLETED, FiscalStatus.DONE)
    assert refund.fn_number == correction.fn_number
    last = refund.transitions.order_by("sequence").last()
    assert (last.transition, last.actor_id) == ("register_receipt", "fiscalization")
    assert correction.external_id in last.reason


def test_a_wrong_done_receipt_is_corrected_and_the_refund_keeps_its_receipt(fiscal_emulator):
    refund = refunded_refund()
    register_and_finish(Receipt.objects.get(refund=refund))
    refund.refresh_from_db()
    fn_number, sequence = refund.fiscal_document_number, refund.sequence
    correction = finish(ask(refund, correction_type="instruction", reason="wrong VAT on the receipt"))
    assert correction.status == ReceiptStatus.DONE
    refund.refresh_from_db()
    assert (refund.status, refund.fiscal_document_number, refund.sequence) == (
        RefundStatus.COMPLETED,
        fn_number,
        sequence,
    )


def test_registering_twice_sends_once(fiscal_emulator, settings):
    correction = ask(failed_past_the_sla(settings))
    correction_register(correction_id=correction.id)
    correction_register(correction_id=correction.id)  # the task delivered again
    assert fiscal_emulator.stats()["external_ids"][correction.external_id] == {
        "sell_refund_requests": 1,
        "registrations": 1,
    }


def test_a_form_sent_again_after_its_correction_is_refused(fiscal_emulator, settings):
    """The support page names the correction it asks for; a form sent twice (or after another
    support user's correction) registers nothing more, even when a new correction would be allowed."""
    refund = failed_past_the_sla(settings)
    assert finish(ask(refund, seq=1)).status == ReceiptStatus.DONE
    with pytest.raises(IllegalTransitionError, match="the form was for its correction 1, but its next correction is 2"):
        ask(refund, seq=1)
    assert CorrectionReceipt.objects.filter(refund=refund).count() == 1
    assert ask(refund, seq=2).external_id == f"{refund.id}-c2"  # a form opened now


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"reason": "  "}, "/reason: is required"),
        ({"correction_type": "own"}, "/correction_type: must be one of self, instruction"),
        ({"correction_type": "instruction", "base_number": ""}, "/base_number: is required"),
    ],
)
def test_a_request_without_a_reason_or_basis_is_refused(fiscal_emulator, settings, changes, problem):
    refund = failed_past_the_sla(settings)
    with pytest.raises(ValidationError, match=problem):
        ask(refund, **changes)
    assert not CorrectionReceipt.objects.exists()


def test_a_receipt_that_failed_within_its_sla_is_retried_not_corrected(fiscal_emulator):
    refund = refunded_refund()
    _finish_failed(Receipt.objects.get(refund=refund), reason="refused")
    with pytest.raises(IllegalTransitionError, match="retry the receipt instead"):
        ask(refund)


def test_a_refund_whose_receipt_is_under_way_or_not_due_is_refused(fiscal_emulator, settings):
    with pytest.raises(IllegalTransitionError, match="fiscal status is pending"):
        ask(refunded_refund())
    with pytest.raises(IllegalTransitionError, match="fiscal status is not_required"):
        ask(refunded_refund(country="KZ"))
    refund = failed_past_the_sla(settings)
    ask(refund)
    with pytest.raises(IllegalTransitionError, match="a correction receipt of it is under way"):
        ask(refund)
    assert CorrectionReceipt.objects.filter(refund=refund).count() == 1


@pytest.mark.parametrize("kind", ["receipt", "correction"])
def test_a_document_the_provider_lost_is_registered_again_under_its_external_id(fiscal_emulator, settings, kind):
    """A receipt and a correction receipt alike: the same clock (FISCAL_REPORT_UNKNOWN_SECONDS), the
    same external_id, no second document."""
    model, register, poll, finish_it = {
        "receipt": (Receipt, receipt_register, receipt_poll, register_and_finish),
        "correction": (CorrectionReceipt, correction_register, correction_poll, finish),
    }[kind]
    fiscal_emulator.configure(done_after_ms=60_000)  # still in wait when the provider forgets it
    if kind == "receipt":
        document = Receipt.objects.get(refund=refunded_refund())
    else:
        document = ask(failed_past_the_sla(settings))
    register(**{f"{kind}_id": document.id})
    document.refresh_from_db()
    first_uuid = document.provider_uuid
    fiscal_emulator.reset(done_after_ms=100)  # a provider restart that lost its documents

    poll(**{f"{kind}_id": document.id})  # not yet: the provider may just be slow to know it
    document.refresh_from_db()
    assert document.status == ReceiptStatus.WAIT
    settings.FISCAL_REPORT_UNKNOWN_SECONDS = 0
    poll(**{f"{kind}_id": document.id})
    document.refresh_from_db()
    assert document.status == ReceiptStatus.PENDING
    assert f"did not know the {kind}'s uuid" in document.last_error

    done = finish_it(document)

    assert done.status == ReceiptStatus.DONE
    assert done.provider_uuid != first_uuid
    assert fiscal_emulator.registered(done.external_id)["uuid"] == done.provider_uuid
    assert model.objects.filter(refund=done.refund).count() == 1  # the same document, not a second one


def test_a_refused_correction_fails_and_support_may_ask_again(fiscal_emulator, settings):
    refund = failed_past_the_sla(settings)
    fiscal_emulator.configure(fail_rate=1)
    first = finish(ask(refund))
    assert first.status == ReceiptStatus.FAIL
    assert "the provider failed the correction" in first.last_error
    fiscal_emulator.configure(fail_rate=0)
    second = finish(ask(refund))
    assert (second.seq, second.external_id, second.status) == (2, f"{refund.id}-c2", ReceiptStatus.DONE)


def test_the_sweep_flags_a_correction_past_its_deadline_once_and_requeues_its_lost_task(fiscal_emulator, settings):
    correction = ask(failed_past_the_sla(settings))
    before = REGISTRY.get_sample_value("refundtool_fiscal_correction_sla_breaches_total") or 0.0
    later = timezone.now() + timedelta(seconds=settings.FISCAL_CORRECTION_SLA_SECONDS + 1)
    result = receipts_sweep(now=later)
    assert (result.corrections_breached, result.requeued_corrections) == (1, 1)
    assert receipts_sweep(now=later).corrections_breached == 0
    correction.refresh_from_db()
    assert correction.breached_at == later
    after = REGISTRY.get_sample_value("refundtool_fiscal_correction_sla_breaches_total")
    assert after == before + 1
