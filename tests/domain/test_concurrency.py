"""Two connections change the same refund at once: one wins, the other sees the new state.

Each test first holds what the racers need (the refund's row lock, or the refund_request_id's
unique-index entry) in the test's own transaction, waits until PostgreSQL shows both racers blocked
on it, then lets go, so the two really contend instead of running one after the other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from refundtool.exceptions import IllegalTransitionError, RequestConflictError
from refundtool.models import Refund, RefundTransition
from refundtool.services import (
    Actor,
    refund_apply_payment_result,
    refund_cancel,
    refund_request,
    refund_retry_payment,
)
from tests.domain.factories import T0, bob, new_refund, pay, payment, request_data

pytestmark = pytest.mark.django_db(transaction=True)


class Racer(threading.Thread):
    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except Exception as exc:  # noqa: BLE001 - handed over to the test's assertions
            self.error = exc
        finally:
            connections.close_all()


def race(calls: list[Callable[[], Any]], hold: Callable[[], None]) -> list[Racer]:
    """Run `calls` in threads (one connection each) once all of them wait on what `hold` locked."""
    racers = [Racer(call) for call in calls]
    with transaction.atomic():
        hold()
        for racer in racers:
            racer.start()
        _wait_for_lock_waiters(len(racers))
        transaction.set_rollback(True)
    for racer in racers:
        racer.join(timeout=30)
        assert not racer.is_alive()
    return racers


def _wait_for_lock_waiters(count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, f"{count} connections never blocked on the held lock"
            time.sleep(0.005)


def lock_row(refund: Refund) -> Callable[[], None]:
    return lambda: Refund.objects.select_for_update().get(pk=refund.id)


def test_two_support_users_retrying_at_once_retry_once():
    refund = pay(new_refund(), succeeded=False)
    sequence = Refund.objects.get(pk=refund.id).sequence

    def retry_as(username: str) -> Callable[[], Refund]:
        return lambda: refund_retry_payment(
            refund_id=refund.id, reason=f"{username} retries", actor=Actor.user(username)
        )

    racers = race([retry_as("anna"), retry_as("boris")], hold=lock_row(refund))

    winners = [r for r in racers if r.error is None]
    losers = [r for r in racers if r.error is not None]
    assert len(winners) == len(losers) == 1
    assert isinstance(losers[0].error, IllegalTransitionError)
    assert losers[0].error.status == "ready_to_refund"  # the loser saw the winner's state
    assert RefundTransition.objects.filter(refund=refund, transition="retry_payment").count() == 1
    assert Refund.objects.get(pk=refund.id).sequence == sequence + 1


def test_a_payment_result_and_a_cancel_at_once_end_the_same_whichever_wins():
    refund = new_refund()
    sequence = refund.sequence
    payment_actor = payment()

    def apply_payment() -> Refund:
        return refund_apply_payment_result(
            refund_id=refund.id,
            succeeded=True,
            amount=refund.amount,
            currency="RUB",
            processed_at=T0,
            payment_transaction_id="tx-1",
            actor=payment_actor,
        )

    racers = race(
        [apply_payment, lambda: refund_cancel(refund_id=refund.id, reason="changed mind", actor=bob())],
        hold=lock_row(refund),
    )

    assert [r.error for r in racers] == [None, None]
    refund = Refund.objects.get(pk=refund.id)
    assert refund.status == "needs_attention"  # never cancelled: the money left
    assert refund.refunded_at == T0
    assert refund.sequence == sequence + 2
    rows = RefundTransition.objects.filter(refund=refund, sequence__gt=sequence)
    assert len(rows) == 2
    assert len([r for r in rows if r.causing_eid == payment_actor.causing_eid]) == 1
    assert len([r for r in rows if r.reason == "Cancel requested: changed mind"]) == 1


def hold_request_id(data: dict[str, Any]) -> Callable[[], None]:
    """An uncommitted refund with the same refund_request_id: both racers' inserts wait on it."""
    return lambda: Refund.objects.create(
        refund_request_id=data["refund_request_id"],
        request_fingerprint="placeholder",
        order_number="PLACEHOLDER",
        country="RU",
        currency="RUB",
        amount=1,
        payment_id="p",
        payment_method="card",
        requested_at=T0,
    )


def test_two_identical_requests_at_once_create_one_refund():
    data = request_data()

    racers = race([lambda: refund_request(data=data, actor=bob()) for _ in range(2)], hold=hold_request_id(data))

    assert [r.error for r in racers] == [None, None]
    assert racers[0].result.id == racers[1].result.id
    assert Refund.objects.count() == 1
    assert RefundTransition.objects.filter(transition="request").count() == 1
    assert RefundTransition.objects.count() == 2


def test_two_different_requests_with_one_refund_request_id_at_once_conflict():
    data = request_data()
    other = {**data, "order_number": "RU-OTHER"}

    racers = race(
        [lambda: refund_request(data=data, actor=bob()), lambda: refund_request(data=other, actor=bob())],
        hold=hold_request_id(data),
    )

    assert sorted(type(r.error).__name__ for r in racers) == ["NoneType", "RequestConflictError"]
    winner = next(r.result for r in racers if r.error is None)
    loser_error = next(r.error for r in racers if r.error is not None)
    assert isinstance(loser_error, RequestConflictError)
    assert loser_error.refund_id == winner.id
    assert Refund.objects.count() == 1
    assert RefundTransition.objects.count() == 2
