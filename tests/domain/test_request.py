import uuid
from decimal import Decimal

import pytest

from refundtool.exceptions import ActorNotAllowedError, RequestConflictError
from refundtool.models import Refund, RefundTransition
from refundtool.services import Actor, refund_request
from refundtool.signals import refund_transitioned
from refundtool.states import FiscalStatus, RefundStatus
from tests.domain.factories import SUPPORT, bob, history, request_data

pytestmark = pytest.mark.django_db


def test_a_request_creates_the_refund_and_hands_it_to_payment_in_one_go():
    data = request_data()
    actor = bob()

    refund = refund_request(data=data, actor=actor)

    refund = Refund.objects.get(pk=refund.id)
    assert refund.status == RefundStatus.READY_TO_REFUND
    assert refund.sequence == 2
    assert refund.refund_request_id == uuid.UUID(data["refund_request_id"])
    assert (refund.amount, refund.delivery_amount, refund.currency) == (Decimal("3648.50"), Decimal("300.00"), "RUB")
    assert (refund.customer_email, refund.customer_phone) == ("buyer@example.com", "+7 999 123-45-67")
    assert (refund.payment_id, refund.payment_method) == ("pay-1", "card")
    assert refund.fiscal_status == FiscalStatus.NOT_REQUIRED  # nothing is due before money leaves
    assert [(i.item_id, i.quantity, i.unit_price, i.vat_rate) for i in refund.items.all()] == [
        ("1", 2, Decimal("1499.00"), "22"),
        ("2", 1, Decimal("350.50"), "20"),
    ]
    rows = list(RefundTransition.objects.filter(refund=refund).order_by("sequence"))
    assert [(r.sequence, r.source, r.transition, r.target) for r in rows] == [
        (1, "", "request", "requested"),
        (2, "requested", "send_to_payment", "ready_to_refund"),
    ]
    assert [(r.actor_kind, r.actor_id, r.causing_eid) for r in rows] == [
        ("event", "bob", actor.causing_eid),
        ("system", "refundtool", actor.causing_eid),
    ]
    assert [r.event_types for r in rows] == [
        ["refund.update"],
        ["refund.update", "refund.item_ready_to_refund"],
    ]


def test_the_same_request_again_returns_the_refund_and_writes_nothing():
    data = request_data()
    first = refund_request(data=data, actor=bob())
    # Same content, spelled differently: whole amounts and another offset for the same instant.
    respelled = {**data, "delivery_amount": "300", "requested_at": "2026-03-01T07:00:00Z"}

    again = refund_request(data=respelled, actor=bob())

    assert again.id == first.id
    assert Refund.objects.count() == 1
    assert RefundTransition.objects.count() == 2


def test_the_same_refund_request_id_with_other_content_is_a_conflict():
    data = request_data()
    first = refund_request(data=data, actor=bob())
    changed = {**data, "order_number": "RU-999"}

    with pytest.raises(RequestConflictError) as caught:
        refund_request(data=changed, actor=bob())

    assert caught.value.refund_id == first.id
    assert str(data["refund_request_id"]) in str(caught.value)
    assert Refund.objects.count() == 1
    assert RefundTransition.objects.count() == 2


def test_a_country_without_fiscal_duty_is_requested_the_same_way():
    refund = refund_request(data=request_data("KZ"), actor=bob())
    assert (refund.country, refund.currency, refund.status) == ("KZ", "KZT", RefundStatus.READY_TO_REFUND)


def test_only_events_and_users_may_request_a_refund():
    with pytest.raises(ActorNotAllowedError):
        refund_request(data=request_data(), actor=Actor.system())
    assert not Refund.objects.exists()


def test_support_may_request_a_refund():
    refund = refund_request(data=request_data(), actor=SUPPORT)
    assert history(refund)[0] == ("", "request", "requested")


def test_every_change_sends_refund_transitioned_inside_the_transaction():
    received = []

    def receiver(sender, **kwargs):
        received.append((kwargs["transition"], kwargs["source"], kwargs["target"], kwargs["sequence"]))
        assert kwargs["refund"].status == "ready_to_refund"

    refund_transitioned.connect(receiver)
    try:
        refund_request(data=request_data(), actor=bob())
    finally:
        refund_transitioned.disconnect(receiver)

    assert received == [("request", None, "requested", 1), ("send_to_payment", "requested", "ready_to_refund", 2)]
