"""A reason is written to the refund, its audit row and its refund.update event: never with a customer's
e-mail or phone in it, whoever wrote it (a provider's error, a support user)."""

import orjson
import pytest

from events.messaging.models import OutboxMessage
from refundtool.models import Refund, RefundTransition
from refundtool.services import refund_flag_needs_attention
from tests.domain.factories import SUPPORT, new_refund, pay, receipt

pytestmark = pytest.mark.django_db

PROVIDER_ERROR = "Неверный телефон клиента +7 912 345-67-89 (anna.smirnova@пример.рф)"


def test_a_receipt_failure_that_echoes_the_customer_is_masked_everywhere_it_is_written():
    refund = pay(new_refund("RU"))
    receipt(refund, succeeded=False, reason=PROVIDER_ERROR)

    written = [
        Refund.objects.get(pk=refund.pk).reason,
        RefundTransition.objects.filter(refund=refund).latest("sequence").reason,
        *(orjson.dumps(row.message).decode() for row in OutboxMessage.objects.filter(event_type="refund.update")),
    ]
    for text in written:
        assert "345-67-89" not in text
        assert "anna.smirnova" not in text
    assert "Неверный телефон клиента ***89" in written[0]


def test_a_support_users_note_is_masked_too():
    refund = new_refund("RU")
    note = "customer called from +7 912 345-67-89"
    refund_flag_needs_attention(refund_id=refund.id, reason=note, actor=SUPPORT)
    assert RefundTransition.objects.filter(refund=refund, reason="customer called from ***89").count() == 1
