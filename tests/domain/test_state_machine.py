"""Random lives of a refund, driven through the services and checked against the invariants of issue 4.

Each example requests a fresh refund (RU, with a fiscal duty, or KZ, without) and drives it with
payment results (fitting or not, redelivered, out of order), BOB's cancels, fiscal results and
support actions. Rules guarded by the current status push lives deep (retries, receipts,
resolutions); `anyone_tries_anything` fires any action by any actor in any state, so refusals and
repeats are exercised everywhere. After every step:
- the status is a known state;
- the audit rows are exactly the successful changes: numbered 1..sequence, each starting where the
  previous one ended, each a declared transition; a refused or repeated input writes nothing;
- a terminal state is left only by its designed exit (require_attention);
- no refund is ever cancelled once money has left, and money never "un-leaves";
- refund.update is announced once per change, item_ready_to_refund exactly when entering
  ready_to_refund, money_refunded at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from refundtool.exceptions import IllegalTransitionError, RequestConflictError, ValidationError
from refundtool.models import Refund, RefundTransition
from refundtool.services import (
    Actor,
    refund_apply_payment_result,
    refund_cancel,
    refund_flag_needs_attention,
    refund_request,
    refund_resolve,
    refund_retry_fiscal,
    refund_retry_payment,
)
from refundtool.states import (
    ITEM_READY_TO_REFUND,
    MONEY_REFUNDED,
    REFUND_UPDATE,
    TERMINAL_STATUSES,
    FiscalStatus,
    RefundStatus,
)
from refundtool.transition_doc import transition_rows
from tests.domain.factories import FISCALIZATION, SUPPORT, TIMES, bob, payment, receipt, request_data, stored_state

S = RefundStatus
DECLARED = {(row.name, source, row.target) for row in transition_rows() for source in row.sources or [""]}
TERMINAL_EXITS = {"require_attention"}
ACTORS = {"support": SUPPORT, "fiscalization": FISCALIZATION, "bob": Actor.event(eid=UUID(int=1), producer="bob")}
EXPECTED_REFUSALS = (IllegalTransitionError, ValidationError, RequestConflictError)
ANY_ACTION = [
    "repeat_request",
    "conflicting_request",
    "cancel",
    "retry_payment",
    "retry_fiscal",
    "flag",
    "resolve",
    "fiscal_result",
]


def status_in(*statuses: str) -> Callable[[RefundLife], bool]:
    return lambda machine: machine.status in statuses


class RefundLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.applied_payment_results: list[dict[str, Any]] = []
        self.money_left = False

    @initialize(country=st.sampled_from(["RU", "KZ"]))
    def request(self, country: str) -> None:
        self.country = country
        self.data = request_data(country)
        refund = refund_request(data=self.data, actor=bob())
        self.refund_id, self.amount, self.currency, self.status = (
            refund.id,
            refund.amount,
            refund.currency,
            refund.status,
        )

    def change(self, call: Callable[[], object]) -> bool:
        """Run one service call; True when it changed the refund. Refusals and no-ops must write nothing."""
        before = stored_state(self.refund_id)
        try:
            call()
        except EXPECTED_REFUSALS:
            assert stored_state(self.refund_id) == before
            return False
        after = stored_state(self.refund_id)
        changes = after["sequence"] - before["sequence"]
        assert after["audit_rows"] - before["audit_rows"] == changes
        if changes == 0:
            assert after == before
        return changes > 0

    def change_once(self, call: Callable[[], object], what: str) -> None:
        """Run it, and when it changed the refund, run it again: the repeat must change nothing."""
        if self.change(call):
            assert not self.change(call), f"a repeated {what} changed the refund again"

    # --- BOB and Payment: any time, in any state ------------------------------------------------------

    @rule(reason=st.sampled_from(["changed mind", "duplicate order"]))
    def bob_cancels(self, reason: str) -> None:
        self.change_once(lambda: refund_cancel(refund_id=self.refund_id, reason=reason, actor=ACTORS["bob"]), "cancel")

    @rule(
        succeeded=st.booleans(),
        fits=st.sampled_from([True] * 7 + [False]),
        transaction_id=st.sampled_from(["tx-1", "tx-1", "tx-1", "tx-2", ""]),
        at=st.sampled_from(TIMES),
    )
    def payment_result(self, succeeded: bool, fits: bool, transaction_id: str, at: datetime) -> None:
        result = {
            "refund_id": self.refund_id,
            "succeeded": succeeded,
            "amount": self.amount if fits else self.amount - Decimal("0.01"),
            "currency": self.currency,
            "processed_at": at,
            "payment_transaction_id": transaction_id if succeeded else "",
            "failure_reason": "" if succeeded else "declined",
        }
        if self.change(lambda: refund_apply_payment_result(**result, actor=payment())):
            self.applied_payment_results.append(result)

    @precondition(lambda self: self.applied_payment_results)
    @rule(data=st.data())
    def redeliver_an_applied_payment_result(self, data: st.DataObject) -> None:
        result = data.draw(st.sampled_from(self.applied_payment_results))
        assert not self.change(lambda: refund_apply_payment_result(**result, actor=payment())), (
            "a payment result applied before changed the refund again"
        )

    # --- where the normal flow and support go next ----------------------------------------------------

    @precondition(status_in(S.REFUNDED, S.FISCAL_FAILED, S.NEEDS_ATTENTION))
    @rule(succeeded=st.booleans(), document=st.sampled_from(["1001", "1002"]))
    def fiscal_result(self, succeeded: bool, document: str) -> None:
        self.change_once(lambda: receipt(Refund(id=self.refund_id), succeeded=succeeded, document=document), "receipt")

    @precondition(status_in(S.PAYMENT_FAILED))
    @rule()
    def support_retries_payment(self) -> None:
        assert self.change(lambda: refund_retry_payment(refund_id=self.refund_id, reason="retry", actor=SUPPORT))

    @precondition(status_in(S.FISCAL_FAILED))
    @rule()
    def support_retries_fiscal(self) -> None:
        assert self.change(lambda: refund_retry_fiscal(refund_id=self.refund_id, reason="retry", actor=SUPPORT))

    @precondition(status_in(S.NEEDS_ATTENTION, S.PAYMENT_FAILED, S.FISCAL_FAILED))
    @rule(end=st.sampled_from(["completed", "cancelled", "refunded"]))
    def support_resolves(self, end: str) -> None:
        self.change(lambda: refund_resolve(refund_id=self.refund_id, target=end, reason="checked", actor=SUPPORT))

    # --- anything, by anyone, in any state: refusals and repeats must write nothing ---------------------

    @rule(
        action=st.sampled_from(ANY_ACTION),
        by=st.sampled_from(list(ACTORS)),
        reason=st.sampled_from(["checked", ""]),
        end=st.sampled_from([*S.values, "nonsense"]),
    )
    def anyone_tries_anything(self, action: str, by: str, reason: str, end: str) -> None:
        actor, refund_id = ACTORS[by], self.refund_id
        calls: dict[str, Callable[[], object]] = {
            "repeat_request": lambda: refund_request(data=self.data, actor=bob()),
            "conflicting_request": lambda: refund_request(data={**self.data, "order_number": "OTHER"}, actor=bob()),
            "cancel": lambda: refund_cancel(refund_id=refund_id, reason=reason, actor=actor),
            "retry_payment": lambda: refund_retry_payment(refund_id=refund_id, reason=reason, actor=actor),
            "retry_fiscal": lambda: refund_retry_fiscal(refund_id=refund_id, reason=reason, actor=actor),
            "flag": lambda: refund_flag_needs_attention(refund_id=refund_id, reason=reason, actor=actor),
            "resolve": lambda: refund_resolve(refund_id=refund_id, target=end, reason=reason, actor=actor),
            "fiscal_result": lambda: receipt(Refund(id=refund_id), succeeded=bool(reason)),
        }
        changed = self.change(calls[action])
        if action in ("repeat_request", "conflicting_request"):
            assert not changed

    # --- invariants -------------------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        refund = Refund.objects.get(pk=self.refund_id)
        self.status = refund.status
        assert refund.status in S.values
        self.history_is_an_unbroken_chain_of_designed_transitions(refund)
        self.never_cancelled_once_money_left(refund)
        self.fiscal_status_follows_the_country(refund)

    def history_is_an_unbroken_chain_of_designed_transitions(self, refund: Refund) -> None:
        rows = list(RefundTransition.objects.filter(refund=refund).order_by("sequence"))
        assert [row.sequence for row in rows] == list(range(1, refund.sequence + 1))
        previous = ""
        for row in rows:
            assert row.source == previous
            assert (row.transition, row.source, row.target) in DECLARED
            if row.source in TERMINAL_STATUSES:
                assert row.transition in TERMINAL_EXITS
            assert row.event_types.count(REFUND_UPDATE) == 1
            entering_ready = row.target == S.READY_TO_REFUND and row.source != row.target
            assert (ITEM_READY_TO_REFUND in row.event_types) == entering_ready
            previous = row.target
        assert previous == refund.status
        announced = [row for row in rows if MONEY_REFUNDED in row.event_types]
        assert len(announced) <= 1
        assert all(row.target == S.REFUNDED for row in announced)

    def never_cancelled_once_money_left(self, refund: Refund) -> None:
        if self.money_left:
            assert refund.refunded_at is not None, "money un-left"
        self.money_left = refund.refunded_at is not None
        assert not (refund.status == S.CANCELLED and self.money_left)

    def fiscal_status_follows_the_country(self, refund: Refund) -> None:
        if self.country == "KZ":
            assert refund.fiscal_status == FiscalStatus.NOT_REQUIRED
            assert refund.status != S.REFUNDED  # straight on to completed
        elif refund.status == S.REFUNDED:
            assert refund.fiscal_status == FiscalStatus.PENDING


@pytest.mark.django_db
def test_random_lives_of_a_refund_keep_the_invariants():
    run_state_machine_as_test(
        RefundLife,
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
