"""What each service does from each state, and that a refused change writes nothing."""

from decimal import Decimal

import pytest

from refundtool.exceptions import (
    ActorNotAllowedError,
    IllegalTransitionError,
    RefundNotFoundError,
    ValidationError,
)
from refundtool.models import Refund, RefundTransition
from refundtool.services import (
    Actor,
    refund_apply_payment_result,
    refund_cancel,
    refund_flag_needs_attention,
    refund_resolve,
    refund_retry_fiscal,
    refund_retry_payment,
)
from refundtool.signals import refund_transitioned
from refundtool.states import FiscalStatus
from refundtool.states import RefundStatus as S
from tests.domain.factories import (
    FISCALIZATION,
    SUPPORT,
    TIMES,
    bob,
    history,
    new_refund,
    pay,
    payment,
    receipt,
    stored_state,
)

pytestmark = pytest.mark.django_db


def last_row(refund: Refund) -> RefundTransition:
    return RefundTransition.objects.filter(refund_id=refund.id).latest("sequence")


def reloaded(refund: Refund) -> Refund:
    return Refund.objects.get(pk=refund.id)


def assert_refused_and_nothing_written(call, refund: Refund, error=IllegalTransitionError) -> Exception:
    before = stored_state(refund.id)
    with pytest.raises(error) as caught:
        call()
    assert stored_state(refund.id) == before
    return caught.value


# --- payment results ----------------------------------------------------------------------------


def test_a_successful_payment_refunds_and_leaves_the_ru_receipt_pending():
    refund = pay(new_refund(), transaction_id="tx-77", at=TIMES[0])

    refund = reloaded(refund)
    assert (refund.status, refund.fiscal_status, refund.sequence) == (S.REFUNDED, FiscalStatus.PENDING, 3)
    assert (refund.payment_transaction_id, refund.refunded_at, refund.payment_result_at) == (
        "tx-77",
        TIMES[0],
        TIMES[0],
    )
    row = last_row(refund)
    assert (row.transition, row.actor_kind, row.actor_id) == ("confirm_payment", "event", "payment")
    assert row.event_types == ["refund.update", "refund.money_refunded"]


def test_without_fiscal_duty_a_successful_payment_completes_the_refund_at_once():
    actor = payment()
    refund = new_refund("KZ")
    refund_apply_payment_result(
        refund_id=refund.id,
        succeeded=True,
        amount=refund.amount,
        currency="KZT",
        processed_at=TIMES[0],
        payment_transaction_id="tx-1",
        actor=actor,
    )

    refund = reloaded(refund)
    assert (refund.status, refund.fiscal_status, refund.sequence) == (S.COMPLETED, FiscalStatus.NOT_REQUIRED, 4)
    assert history(refund)[2:] == [
        ("ready_to_refund", "confirm_payment", "refunded"),
        ("refunded", "complete_without_receipt", "completed"),
    ]
    follow_up = last_row(refund)
    assert (follow_up.actor_kind, follow_up.causing_eid, follow_up.event_types) == (
        "system",
        actor.causing_eid,
        ["refund.update"],
    )


def test_a_repeated_success_changes_nothing():
    refund = pay(new_refund(), transaction_id="tx-1")
    before = stored_state(refund.id)

    pay(refund, transaction_id="tx-1", at=TIMES[2])

    assert stored_state(refund.id) == before


def test_a_failed_payment_waits_for_support_and_its_repeat_changes_nothing():
    refund = pay(new_refund(), succeeded=False, failure_reason="card expired")
    refund = reloaded(refund)
    assert (refund.status, refund.reason) == (S.PAYMENT_FAILED, "card expired")
    assert last_row(refund).event_types == ["refund.update"]
    before = stored_state(refund.id)

    pay(refund, succeeded=False, failure_reason="card expired")
    pay(refund, succeeded=False, failure_reason="still expired", at=TIMES[3])

    assert stored_state(refund.id) == before


@pytest.mark.parametrize(
    ("amount", "currency", "transaction_id", "reason"),
    [
        (Decimal("3648.49"), None, "tx-1", "Payment reported 3648.49 RUB for a refund of 3648.50 RUB"),
        (None, "KZT", "tx-1", "Payment reported 3648.50 KZT for a refund of 3648.50 RUB"),
        (None, None, "", "Payment reported a success without a payment_transaction_id"),
    ],
    ids=["amount", "currency", "no-transaction-id"],
)
def test_a_success_that_does_not_fit_needs_attention_and_money_counts_as_left(amount, currency, transaction_id, reason):
    refund = pay(new_refund(), amount=amount, currency=currency, transaction_id=transaction_id)

    refund = reloaded(refund)
    assert (refund.status, refund.reason, refund.refunded_at) == (S.NEEDS_ATTENTION, reason, TIMES[0])
    assert last_row(refund).transition == "require_attention"
    assert last_row(refund).event_types == ["refund.update"]  # money_refunded only once support decides


def test_a_failure_that_does_not_fit_needs_attention():
    refund = pay(new_refund(), succeeded=False, amount=Decimal("1.00"))
    assert reloaded(refund).status == S.NEEDS_ATTENTION


def test_a_second_success_with_another_transaction_is_a_possible_double_refund():
    refund = pay(new_refund(), transaction_id="tx-1")

    pay(refund, transaction_id="tx-2", at=TIMES[1])

    refund = reloaded(refund)
    assert refund.status == S.NEEDS_ATTENTION
    assert refund.reason == "Payment reported a second refund (tx-2) after tx-1: possible double refund"
    assert refund.payment_transaction_id == "tx-1"


def test_a_late_success_after_a_failure_refunds():
    refund = pay(new_refund(), succeeded=False, at=TIMES[0])
    pay(refund, transaction_id="tx-9", at=TIMES[1])
    assert reloaded(refund).status == S.REFUNDED


def test_after_a_retry_the_old_failure_is_stale_but_a_new_one_counts():
    refund = pay(new_refund(), succeeded=False, at=TIMES[0], failure_reason="timeout")
    refund_retry_payment(refund_id=refund.id, reason="customer called", actor=SUPPORT)
    before = stored_state(refund.id)

    pay(refund, succeeded=False, at=TIMES[0], failure_reason="timeout")  # redelivered, new eid
    assert stored_state(refund.id) == before

    pay(refund, succeeded=False, at=TIMES[1], failure_reason="declined")
    assert (reloaded(refund).status, reloaded(refund).reason) == (S.PAYMENT_FAILED, "declined")


def test_a_failure_after_a_success_moves_no_money_and_changes_nothing():
    refund = pay(new_refund(), at=TIMES[0])
    before = stored_state(refund.id)
    pay(refund, succeeded=False, at=TIMES[1])
    assert stored_state(refund.id) == before


def test_money_leaving_for_a_cancelled_refund_needs_attention():
    refund = pay(new_refund(), succeeded=False)
    refund_cancel(refund_id=refund.id, reason="customer kept the goods", actor=bob())
    assert reloaded(refund).status == S.CANCELLED

    pay(refund, transaction_id="tx-5", at=TIMES[1])

    refund = reloaded(refund)
    assert (refund.status, refund.refunded_at) == (S.NEEDS_ATTENTION, TIMES[1])
    assert refund.reason == "Payment refunded money (tx-5) for a cancelled refund"


def test_a_payment_result_while_needs_attention_is_noted_for_support():
    refund = new_refund()
    refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())

    pay(refund, transaction_id="tx-3")

    refund = reloaded(refund)
    assert (refund.status, refund.payment_transaction_id) == (S.NEEDS_ATTENTION, "tx-3")
    assert history(refund)[-1] == ("needs_attention", "note_attention", "needs_attention")


def test_a_result_for_an_unknown_refund_is_not_found():
    refund = new_refund()
    refund.id = refund.refund_request_id  # an id no refund has
    with pytest.raises(RefundNotFoundError):
        pay(refund)


def test_only_an_event_may_report_a_payment_result():
    refund = new_refund()
    error = assert_refused_and_nothing_written(
        lambda: refund_apply_payment_result(
            refund_id=refund.id,
            succeeded=True,
            amount=refund.amount,
            currency="RUB",
            processed_at=TIMES[0],
            payment_transaction_id="tx",
            actor=SUPPORT,
        ),
        refund,
        error=ActorNotAllowedError,
    )
    assert str(error) == "confirm_payment may be triggered by event, not user"


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_after_a_failed_payment_cancels():
    refund = pay(new_refund(), succeeded=False)
    refund_cancel(refund_id=refund.id, reason="customer kept the goods", actor=bob())
    refund = reloaded(refund)
    assert (refund.status, refund.reason) == (S.CANCELLED, "Cancel requested: customer kept the goods")


@pytest.mark.parametrize("country", ["RU", "KZ"])
def test_cancel_when_money_may_have_left_needs_attention_and_its_repeat_changes_nothing(country):
    in_flight = new_refund(country)
    done = pay(new_refund(country))  # refunded (RU) or completed (KZ)
    for refund in (in_flight, done):
        refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())
        assert reloaded(refund).status == S.NEEDS_ATTENTION
        assert reloaded(refund).reason == "Cancel requested: changed mind"
        before = stored_state(refund.id)

        refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())

        assert stored_state(refund.id) == before


def test_cancelling_a_cancelled_refund_changes_nothing():
    refund = pay(new_refund(), succeeded=False)
    refund_cancel(refund_id=refund.id, reason="one", actor=bob())
    before = stored_state(refund.id)
    refund_cancel(refund_id=refund.id, reason="another", actor=SUPPORT)
    assert stored_state(refund.id) == before


def test_a_cancel_needs_a_reason():
    refund = new_refund()
    assert_refused_and_nothing_written(
        lambda: refund_cancel(refund_id=refund.id, reason="  ", actor=SUPPORT), refund, error=ValidationError
    )


# --- fiscal receipts ----------------------------------------------------------------------------


def test_a_registered_receipt_completes_the_refund_and_its_repeat_changes_nothing():
    refund = receipt(pay(new_refund()), document="1001")

    refund = reloaded(refund)
    assert (refund.status, refund.fiscal_status) == (S.COMPLETED, FiscalStatus.DONE)
    assert (refund.fn_number, refund.fiscal_document_number, refund.receipt_datetime) == (
        "9999078900012345",
        "1001",
        TIMES[1],
    )
    assert (last_row(refund).actor_kind, last_row(refund).actor_id) == ("system", "fiscalization")
    before = stored_state(refund.id)
    receipt(refund, document="1001")
    assert stored_state(refund.id) == before


def test_a_failed_receipt_is_retried_by_support_and_then_completes():
    refund = receipt(pay(new_refund()), succeeded=False, reason="provider: invalid phone")
    assert (reloaded(refund).status, reloaded(refund).reason) == (S.FISCAL_FAILED, "provider: invalid phone")
    before = stored_state(refund.id)
    receipt(refund, succeeded=False)
    assert stored_state(refund.id) == before
    signalled = []
    refund_transitioned.connect(
        receiver := lambda sender, **kw: signalled.append((kw["target"], kw["refund"].fiscal_status))
    )
    try:
        refund_retry_fiscal(refund_id=refund.id, reason="phone fixed", actor=SUPPORT)
    finally:
        refund_transitioned.disconnect(receiver)

    assert signalled == [(S.REFUNDED, FiscalStatus.PENDING)]
    assert last_row(refund).event_types == ["refund.update"]  # the money left once; no second money_refunded
    receipt(refund)
    assert reloaded(refund).status == S.COMPLETED


def test_a_late_receipt_after_a_final_failure_completes():
    refund = receipt(pay(new_refund()), succeeded=False)
    receipt(refund)
    assert reloaded(refund).status == S.COMPLETED


def test_a_receipt_while_needs_attention_is_stored_and_noted():
    refund = pay(new_refund())
    refund_flag_needs_attention(refund_id=refund.id, reason="customer disputes", actor=SUPPORT)
    receipt(refund)
    refund = reloaded(refund)
    assert (refund.status, refund.fiscal_status, refund.fiscal_document_number) == (
        S.NEEDS_ATTENTION,
        FiscalStatus.DONE,
        "1001",
    )


@pytest.mark.parametrize("country", ["RU", "KZ"])
def test_a_receipt_result_when_none_is_awaited_is_refused(country):
    before_payment = new_refund(country)
    error = assert_refused_and_nothing_written(lambda: receipt(before_payment), before_payment)
    assert "awaits no fiscal receipt (fiscal status not_required)" in str(error)


def test_a_different_receipt_for_a_completed_refund_is_refused():
    refund = receipt(pay(new_refund()), document="1001")
    assert_refused_and_nothing_written(lambda: receipt(refund, document="2002"), refund)


# --- support ------------------------------------------------------------------------------------


def test_retry_payment_sends_the_command_again():
    refund = pay(new_refund(), succeeded=False)
    refund_retry_payment(refund_id=refund.id, reason="card replaced", actor=SUPPORT)
    row = last_row(refund)
    assert (row.transition, row.actor_kind, row.actor_id, row.reason) == (
        "retry_payment",
        "user",
        "support.anna",
        "card replaced",
    )
    assert row.event_types == ["refund.update", "refund.item_ready_to_refund"]


def test_an_illegal_transition_is_refused_with_a_clear_error_and_changes_nothing():
    refund = new_refund()
    error = assert_refused_and_nothing_written(
        lambda: refund_retry_payment(refund_id=refund.id, reason="why not", actor=SUPPORT), refund
    )
    assert str(error) == f"refund {refund.id} is ready_to_refund: retry_payment is not allowed from there"
    assert (error.status, error.transition) == ("ready_to_refund", "retry_payment")


def test_only_support_may_retry():
    refund = pay(new_refund(), succeeded=False)
    assert_refused_and_nothing_written(
        lambda: refund_retry_payment(refund_id=refund.id, reason="auto", actor=Actor.system()),
        refund,
        error=ActorNotAllowedError,
    )


def test_support_flags_only_refunds_that_are_not_terminal():
    open_refund = new_refund()
    refund_flag_needs_attention(refund_id=open_refund.id, reason="customer called twice", actor=SUPPORT)
    assert reloaded(open_refund).status == S.NEEDS_ATTENTION

    completed = pay(new_refund("KZ"))
    assert_refused_and_nothing_written(
        lambda: refund_flag_needs_attention(refund_id=completed.id, reason="look", actor=SUPPORT), completed
    )


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("payment_failed", S.CANCELLED),
        ("payment_failed", S.COMPLETED),
        ("fiscal_failed", S.COMPLETED),
        ("needs_attention", S.COMPLETED),
        ("needs_attention", S.CANCELLED),
    ],
)
def test_support_resolves_to_a_legitimate_end(start, target):
    refund = new_refund()
    if start == "payment_failed":
        pay(refund, succeeded=False)
    elif start == "fiscal_failed":
        receipt(pay(refund), succeeded=False)
    else:
        refund_flag_needs_attention(refund_id=refund.id, reason="odd", actor=SUPPORT)

    refund_resolve(refund_id=refund.id, target=target, reason="checked with the bank", actor=SUPPORT)

    refund = reloaded(refund)
    assert (refund.status, refund.reason) == (target, "checked with the bank")
    assert last_row(refund).transition == f"resolve_as_{target}"


def test_a_refund_whose_money_left_cannot_be_resolved_as_cancelled():
    refund = new_refund()
    refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())
    pay(refund, transaction_id="tx-1")

    error = assert_refused_and_nothing_written(
        lambda: refund_resolve(refund_id=refund.id, target="cancelled", reason="BOB asked", actor=SUPPORT), refund
    )
    assert "cannot resolve_as_cancelled: allowed only if no successful payment is recorded" in str(error)


@pytest.mark.parametrize(("country", "end"), [("RU", S.REFUNDED), ("KZ", S.COMPLETED)])
def test_resolving_as_refunded_finishes_the_normal_flow_and_announces_the_money_once(country, end):
    refund = new_refund(country)
    refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())
    pay(refund, transaction_id="tx-1")  # noted: the money left after all

    refund_resolve(refund_id=refund.id, target="refunded", reason="money left, keep it", actor=SUPPORT)

    refund = reloaded(refund)
    assert refund.status == end
    rows = RefundTransition.objects.filter(refund=refund)
    assert [r.transition for r in rows if "refund.money_refunded" in r.event_types] == ["resolve_as_refunded"]


def test_resolving_as_refunded_needs_money_that_left():
    refund = new_refund()
    refund_flag_needs_attention(refund_id=refund.id, reason="odd", actor=SUPPORT)
    error = assert_refused_and_nothing_written(
        lambda: refund_resolve(refund_id=refund.id, target="refunded", reason="sure", actor=SUPPORT), refund
    )
    assert "cannot resolve_as_refunded: allowed only if a successful payment is recorded" in str(error)


def test_resolve_names_an_end_state_and_a_reason():
    refund = pay(new_refund(), succeeded=False)
    error = assert_refused_and_nothing_written(
        lambda: refund_resolve(refund_id=refund.id, target="requested", reason="x", actor=SUPPORT),
        refund,
        error=ValidationError,
    )
    assert error.errors[0].path == "/target"
    assert_refused_and_nothing_written(
        lambda: refund_resolve(refund_id=refund.id, target="completed", reason="", actor=SUPPORT),
        refund,
        error=ValidationError,
    )


def test_the_fiscal_app_may_not_resolve():
    refund = pay(new_refund(), succeeded=False)
    assert_refused_and_nothing_written(
        lambda: refund_resolve(refund_id=refund.id, target="completed", reason="x", actor=FISCALIZATION),
        refund,
        error=ActorNotAllowedError,
    )
