"""Receipt services driven step by step against the emulator: creation, registration, report, settling, sweep."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from fiscalization.models import Receipt, ReceiptStatus
from fiscalization.services import receipt_poll, receipt_register, receipts_sweep, refund_fiscal_settle
from refundtool.services import Actor, refund_retry_fiscal
from refundtool.states import FiscalStatus, RefundStatus
from tests.fiscal.factories import items_of, refunded_refund, requested_refund

pytestmark = pytest.mark.django_db


def poll_until_final(receipt: Receipt) -> Receipt:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        receipt_poll(receipt_id=receipt.id)
        receipt.refresh_from_db()
        if receipt.status != ReceiptStatus.WAIT:
            return receipt
        time.sleep(0.02)
    raise AssertionError(f"{receipt} stayed in wait")


def register_and_finish(receipt: Receipt) -> Receipt:
    receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.WAIT, receipt.last_error
    return poll_until_final(receipt)


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_a_refund_entering_refunded_gets_a_pending_receipt_in_the_same_transaction(
    fiscal_emulator, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        refund = refunded_refund(delivery_amount="250.00")
    (receipt,) = Receipt.objects.filter(refund=refund)
    assert receipt.status == ReceiptStatus.PENDING
    assert receipt.external_id == f"{refund.id}-1-1"
    assert receipt.body["external_id"] == receipt.external_id
    assert receipt.total == refund.amount == Decimal("550.00")
    assert receipt.refunded_at == refund.refunded_at
    assert receipt.deadline == refund.refunded_at + timedelta(seconds=settings.FISCAL_SLA_SECONDS)
    items = receipt.body["receipt"]["items"]
    assert [i["payment_object"] for i in items] == [1, 1, 4]
    assert items[0]["price"] == Decimal("100.00")  # read back as Decimal, resent unchanged
    assert len(callbacks) == 1  # the registration, enqueued after commit


def test_a_country_without_a_fiscal_duty_gets_no_receipt(fiscal_emulator):
    refund = refunded_refund(country="KZ")
    assert refund.status == RefundStatus.COMPLETED
    assert not Receipt.objects.filter(refund=refund).exists()


def test_a_refund_of_more_than_100_positions_gets_one_receipt_per_100(fiscal_emulator):
    refund = refunded_refund(items=items_of(150), delivery_amount="300.00")
    receipts = list(Receipt.objects.filter(refund=refund))
    assert [(r.part, len(r.body["receipt"]["items"])) for r in receipts] == [(1, 100), (2, 51)]
    assert sum(r.total for r in receipts) == refund.amount
    for receipt in receipts:
        register_and_finish(receipt)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED
    receipts[0].refresh_from_db()
    assert (refund.fn_number, refund.fiscal_document_number) == (
        receipts[0].fn_number,
        receipts[0].fiscal_document_number,
    )
    assert all(r.external_id in refund.reason for r in receipts)


def test_the_phone_is_normalised_when_there_is_no_email(fiscal_emulator):
    refund = refunded_refund(customer={"phone": "8 (916) 123-45-67"})
    assert Receipt.objects.get(refund=refund).body["receipt"]["client"] == {"phone": "+79161234567"}


def test_registered_then_done_completes_the_refund_with_the_fiscal_attributes(fiscal_emulator):
    refund = refunded_refund()
    done = register_and_finish(Receipt.objects.get(refund=refund))
    assert done.status == ReceiptStatus.DONE
    assert done.provider_uuid
    assert done.registered_at is not None
    assert done.done_at is not None
    assert done.fn_number
    assert done.receipt_datetime is not None
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED
    assert refund.fiscal_status == FiscalStatus.DONE
    assert (refund.fn_number, refund.fiscal_document_number, refund.ofd_receipt_url) == (
        done.fn_number,
        done.fiscal_document_number,
        done.ofd_receipt_url,
    )


def test_done_observes_the_refunded_to_done_latency_after_commit(fiscal_emulator, django_capture_on_commit_callbacks):
    count_before = metric("refundtool_fiscal_refunded_to_done_seconds_count")
    sum_before = metric("refundtool_fiscal_refunded_to_done_seconds_sum")
    refund = refunded_refund()
    with django_capture_on_commit_callbacks(execute=True):
        done = register_and_finish(Receipt.objects.get(refund=refund))
    assert metric("refundtool_fiscal_refunded_to_done_seconds_count") == count_before + 1
    observed = metric("refundtool_fiscal_refunded_to_done_seconds_sum") - sum_before
    assert observed == pytest.approx((done.done_at - refund.refunded_at).total_seconds())


def test_a_second_delivery_of_the_register_task_changes_nothing(fiscal_emulator):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    receipt_register(receipt_id=receipt.id)
    receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.attempts == 1
    assert fiscal_emulator.stats()["external_ids"][receipt.external_id] == {
        "sell_refund_requests": 1,
        "registrations": 1,
    }


def test_a_lost_answer_is_retryable_and_the_resend_takes_the_same_uuid(fiscal_emulator):
    from fiscalization.provider import ProviderUnavailable

    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    fiscal_emulator.configure(error_rate=1, lost_response_share=1)
    with pytest.raises(ProviderUnavailable):
        receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.SENT
    assert "HTTP 500" in receipt.last_error
    assert receipt.next_attempt_at > timezone.now() + timedelta(seconds=30)  # the sweep leaves the retry alone
    fiscal_emulator.configure(error_rate=0)
    assert register_and_finish(receipt).status == ReceiptStatus.DONE
    assert receipt.attempts >= 3
    assert fiscal_emulator.stats()["external_ids"][receipt.external_id]["registrations"] == 1


def test_a_body_the_provider_refuses_fails_the_refund_with_the_reason(fiscal_emulator):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    receipt.body["receipt"]["total"] = Decimal("1.00")
    receipt.save(update_fields=["body"])
    receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAIL
    assert "the provider refused the receipt: receipt.total: 1.0 is not the sum" in receipt.last_error
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED
    assert receipt.last_error in refund.reason


def test_a_final_fail_moves_the_refund_to_fiscal_failed_and_support_can_retry(fiscal_emulator):
    fiscal_emulator.configure(fail_rate=1, fail_type="driver")
    refund = refunded_refund()
    failed = register_and_finish(Receipt.objects.get(refund=refund))
    assert failed.status == ReceiptStatus.FAIL
    assert "the cash register refused the receipt" in failed.last_error
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED

    fiscal_emulator.configure(fail_rate=0)
    refund_retry_fiscal(refund_id=refund.id, reason="provider fixed the register", actor=Actor.user("support"))
    retry = Receipt.objects.get(refund=refund, status=ReceiptStatus.PENDING)
    assert (retry.part, retry.seq, retry.external_id) == (1, 2, f"{refund.id}-1-2")
    assert register_and_finish(retry).status == ReceiptStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED


def test_a_fail_with_a_timeout_registers_again_under_a_new_external_id(fiscal_emulator):
    fiscal_emulator.configure(fail_rate=1, fail_type="timeout")
    refund = refunded_refund()
    first = register_and_finish(Receipt.objects.get(refund=refund))
    assert first.status == ReceiptStatus.FAIL
    assert "registered again under a new external_id" in first.last_error
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REFUNDED  # not failed: the receipt goes on
    again = Receipt.objects.get(refund=refund, seq=2)
    assert again.status == ReceiptStatus.PENDING
    assert again.external_id != first.external_id
    assert again.body["receipt"] == first.body["receipt"]
    fiscal_emulator.configure(fail_rate=0)
    assert register_and_finish(again).status == ReceiptStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED


def test_a_refund_that_cannot_make_a_receipt_fails_with_the_reason_and_sends_nothing(fiscal_emulator):
    refund = refunded_refund(items=items_of(1, vat_rate="12"))
    receipt = Receipt.objects.get(refund=refund)
    assert receipt.status == ReceiptStatus.FAIL
    assert "VAT rate '12'" in receipt.last_error
    refund_fiscal_settle(refund_id=refund.id)  # what the settle task enqueued on commit does
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED
    assert "VAT rate '12'" in refund.reason
    assert fiscal_emulator.stats()["requests"] == {}


def test_the_sweep_reenqueues_lost_tasks_and_leaves_live_ones(fiscal_emulator, settings):
    lost = Receipt.objects.get(refund=refunded_refund())
    fresh = Receipt.objects.get(refund=refunded_refund())
    later = timezone.now() + timedelta(seconds=settings.FISCAL_LOST_TASK_SECONDS + 1)
    Receipt.objects.filter(id=fresh.id).update(next_attempt_at=later)
    result = receipts_sweep(now=later)
    assert result.requeued_registrations == 1
    lost.refresh_from_db()
    assert lost.next_attempt_at > later  # claimed: the next sweep does not enqueue it again
    assert receipts_sweep(now=later).requeued_registrations == 0


def test_the_sweep_flags_each_receipt_past_its_deadline_once(fiscal_emulator):
    receipt = Receipt.objects.get(refund=refunded_refund())
    before = metric("refundtool_fiscal_sla_breaches_total")
    after_deadline = receipt.deadline + timedelta(seconds=1)
    assert receipts_sweep(now=after_deadline).breached == 1
    assert receipts_sweep(now=after_deadline).breached == 0
    receipt.refresh_from_db()
    assert receipt.breached_at == after_deadline
    assert metric("refundtool_fiscal_sla_breaches_total") == before + 1


def test_the_sweep_settles_a_refund_whose_receipts_are_all_final(fiscal_emulator):
    refund = refunded_refund(items=items_of(1, vat_rate="16"))
    assert receipts_sweep().settled == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED


def test_a_refund_still_requested_has_no_receipt(fiscal_emulator):
    refund = requested_refund()
    assert refund.status == RefundStatus.READY_TO_REFUND
    assert not Receipt.objects.filter(refund=refund).exists()


def test_a_receipt_id_that_does_not_exist_is_a_no_op(fiscal_emulator):
    receipt_register(receipt_id=10**9)
    receipt_poll(receipt_id=10**9)
    refund_fiscal_settle(refund_id=uuid.uuid4())
    assert fiscal_emulator.stats()["requests"] == {}


def test_polls_start_quick_and_back_off_to_eight_intervals(settings):
    from fiscalization.services import _next_poll_in

    settings.FISCAL_POLL_INTERVAL_SECONDS = 0.5
    now = timezone.now()
    assert _next_poll_in(since=now) == pytest.approx(0.5, abs=0.05)
    assert _next_poll_in(since=now - timedelta(seconds=2)) == pytest.approx(2, abs=0.05)
    assert _next_poll_in(since=now - timedelta(minutes=5)) == 4


@pytest.mark.parametrize(("retries", "low", "high"), [(0, 0.1, 0.2), (1, 0.2, 0.4), (3, 0.8, 1.6), (20, 15, 30)])
def test_provider_retries_back_off_exponentially_with_jitter_up_to_the_maximum(settings, retries, low, high):
    from fiscalization.tasks import provider_backoff

    settings.FISCAL_RETRY_BACKOFF_MAX_SECONDS = 30
    delays = {provider_backoff(retries) for _ in range(50)}
    assert all(low <= delay <= high for delay in delays)
    assert len(delays) > 1


def close_by_support(refund) -> None:
    from refundtool.services import refund_flag_needs_attention, refund_resolve

    support = Actor.user("support")
    refund_flag_needs_attention(refund_id=refund.id, reason="customer says receipted at the shop", actor=support)
    refund_resolve(refund_id=refund.id, target="completed", reason="receipted outside the tool", actor=support)


def test_a_receipt_not_yet_sent_is_not_sent_once_support_closed_the_refund(fiscal_emulator):
    refund = refunded_refund()
    close_by_support(refund)
    receipt = Receipt.objects.get(refund=refund)
    receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAIL
    assert receipt.last_error == "not sent: the refund was completed before it was"
    assert fiscal_emulator.stats()["requests"] == {}
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED


def test_a_receipt_done_after_support_closed_the_refund_keeps_its_outcome(fiscal_emulator):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    receipt_register(receipt_id=receipt.id)
    close_by_support(refund)
    assert poll_until_final(receipt).status == ReceiptStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.COMPLETED
    assert refund.fn_number == ""  # the refund took no result; the receipt row holds it
    assert receipts_sweep().settled == 0
