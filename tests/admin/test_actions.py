"""Support actions: a confirmation page, a required reason, the audit row with the user, errors as messages."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from refundtool.models import Refund, RefundTransition
from refundtool.services import refund_resolve
from tests.admin.factories import make_refund
from tests.domain.factories import SUPPORT

pytestmark = pytest.mark.django_db


def _act(refund: Refund, action: str) -> str:
    return reverse("admin:refundtool_refund_act", args=[refund.pk, action])


def _last_audit(refund: Refund) -> RefundTransition:
    return RefundTransition.objects.filter(refund=refund).latest("sequence")


@pytest.mark.parametrize(
    ("state", "action", "extra", "transition", "target"),
    [
        ("payment_failed", "retry-payment", {}, "retry_payment", "ready_to_refund"),
        ("fiscal_failed", "retry-fiscal", {}, "retry_receipt", "refunded"),
        ("payment_failed", "cancel", {}, "cancel", "cancelled"),
        ("refunded", "cancel", {}, "require_attention", "needs_attention"),
        ("ready_to_refund", "flag-needs-attention", {}, "flag_needs_attention", "needs_attention"),
        ("needs_attention", "resolve", {"target": "cancelled"}, "resolve_as_cancelled", "cancelled"),
        ("fiscal_failed", "resolve", {"target": "completed"}, "resolve_as_completed", "completed"),
    ],
)
def test_each_action_confirms_then_writes_the_audit_row_with_the_user(
    support, state, action, extra, transition, target
):
    refund = make_refund(state)
    confirmation = support.get(_act(refund, action))
    assert confirmation.status_code == 200
    assert b'name="reason"' in confirmation.content
    assert Refund.objects.get(pk=refund.pk).sequence == refund.sequence  # a GET changes nothing

    response = support.post(_act(refund, action), {"reason": "customer called twice", **extra})

    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == target
    audit = _last_audit(refund)
    assert (audit.transition, audit.actor_kind, audit.actor_id) == (transition, "user", "support.anna")
    assert audit.reason.endswith("customer called twice")


def test_the_reason_is_required(support):
    refund = make_refund("payment_failed")
    response = support.post(_act(refund, "retry-payment"), {"reason": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    refund.refresh_from_db()
    assert (refund.status, refund.sequence) == ("payment_failed", 3)


def test_resolve_offers_only_the_possible_ends(support):
    refund = make_refund("fiscal_failed")  # money left: cancelled is not possible
    form = support.get(_act(refund, "resolve")).context["form"]
    assert [value for value, _ in form.fields["target"].choices] == ["completed"]
    response = support.post(_act(refund, "resolve"), {"reason": "x", "target": "cancelled"})
    assert response.status_code == 200
    assert "target" in response.context["form"].errors


def test_a_refused_change_is_a_message_not_an_error(support):
    refund = make_refund("payment_failed")
    confirmation = support.get(_act(refund, "retry-payment"))
    assert confirmation.status_code == 200
    # Someone else resolves it while this user reads the confirmation page.
    refund_resolve(refund_id=refund.id, target="completed", reason="paid by bank transfer", actor=SUPPORT)

    response = support.post(_act(refund, "retry-payment"), {"reason": "try again"})

    assert response.status_code == 302
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error"
    assert "Retry payment was refused" in message.message
    assert "completed" in message.message
    assert Refund.objects.get(pk=refund.pk).status == "completed"


def test_an_action_not_possible_from_the_state_is_not_offered(support):
    refund = make_refund("completed")
    page = support.get(reverse("admin:refundtool_refund_change", args=[refund.pk])).content.decode()
    assert 'data-action="retry-payment"' not in page
    assert 'data-action="cancel"' in page
    response = support.get(_act(refund, "retry-payment"))
    assert response.status_code == 302
    [message] = get_messages(response.wsgi_request)
    assert "not possible" in message.message


def test_unknown_action_or_refund_is_404(support):
    refund = make_refund()
    assert support.get(_act(refund, "explode")).status_code == 404
    assert (
        support.get(
            reverse("admin:refundtool_refund_act", args=["0" * 8 + "-0000-0000-0000-" + "0" * 12, "cancel"])
        ).status_code
        == 404
    )
