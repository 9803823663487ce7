"""The refund page: items, timeline, events in and out, receipts, dead letters; nothing editable."""

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Message
from django.test import override_settings
from django.urls import reverse

from events.messaging.dead_letters import DeadLetterPublisher
from events.messaging.embedded_broker import free_port
from events.messaging.models import InboxMessage
from events.monitoring.flags import flags_clear, flags_raise
from fiscalization.models import Receipt
from refundtool.admin import refunds as refunds_admin
from refundtool.models import Refund, RefundTransition
from refundtool.selectors import REFUND_FLAG_SUBJECT
from tests.admin.factories import make_refund
from tests.support.kafka import create_topic, produce_one_by_one, read_all

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def _page(client, refund: Refund) -> str:
    response = client.get(reverse("admin:refundtool_refund_change", args=[refund.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _park_dead_letter(topic: str, *, key: str, value: bytes) -> Message:
    create_topic(topic)
    create_topic(topic + ".dlq")
    produce_one_by_one(topic, [value], key=key.encode())
    [original] = read_all(topic, expect=1)
    publisher = DeadLetterPublisher(group="refundtool-test")
    publisher.send(original, error_class="HandlerFailed", error_message="refund row locked for too long")
    publisher.flush()
    return original


def test_the_whole_story_of_a_refund(support, unique_name):
    refund = make_refund("fiscal_failed", order_number=unique_name("RU"))
    Receipt.objects.filter(refund=refund).update(status="fail", attempts=3, last_error="cash register offline")
    InboxMessage.objects.create(
        eid=uuid.uuid4(),
        group="refundtool",
        event_type="payment.refund_processed",
        topic="payment.refund_processed.v1",
        partition=0,
        offset=7,
        key=refund.order_number,
        message={"data": {"status": "succeeded", "marker": "inbox-payload-marker"}},
    )
    _park_dead_letter(unique_name("bob.refund_requested"), key=refund.order_number, value=b'{"poison": "dlq-marker"}')
    _park_dead_letter(unique_name("bob.refund_requested"), key="ANOTHER-ORDER", value=b'{"poison": "not-this-one"}')

    page = _page(support, refund)

    assert "SKU-KETTLE" in page
    assert "SKU-MUG" in page
    for transition in ("request", "send_to_payment", "confirm_payment", "fail_receipt"):
        assert f'data-transition="{transition}"' in page  # timeline
    assert "provider said no" in page  # the reason of the failure
    assert "event: bob" in page
    assert "system: fiscalization" in page
    assert "inbox-payload-marker" in page  # events in, with payloads
    # 1 in; out: a refund.update per change (4) and item_ready_to_refund, each in v1 and v2, and money_refunded
    assert page.count('class="event-row"') == 1 + 4 * 2 + 2 + 1
    assert "refund.money_refunded" in page
    assert "part 1, attempt 1 (" in page  # receipts with their attempts, from fiscalization
    assert "cash register offline" in page
    assert "dlq-marker" in page
    assert "HandlerFailed" in page
    assert "not-this-one" not in page
    assert 'data-action="retry-fiscal"' in page
    assert 'data-action="retry-payment"' not in page


def test_a_broker_that_cannot_be_reached_is_a_message_not_an_error(support, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS = 1
    page = _page(support, make_refund())
    assert "The Kafka broker could not be read" in page
    assert 'data-transition="send_to_payment"' in page


def test_the_status_is_never_editable(superuser):
    refund = make_refund()
    url = reverse("admin:refundtool_refund_change", args=[refund.pk])
    page = superuser.get(url).content.decode()
    assert 'name="status"' not in page
    assert 'name="_save"' not in page
    assert superuser.post(url, {"status": "completed"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == "ready_to_refund"
    assert superuser.get(reverse("admin:refundtool_refund_add")).status_code == 403
    assert (
        superuser.post(reverse("admin:refundtool_refund_delete", args=[refund.pk]), {"post": "yes"}).status_code == 403
    )


def test_the_refund_page_shows_its_monitoring_flags_open_and_cleared(support):
    refund = make_refund()
    subject = {str(refund.id): "Payment has not answered item_ready_to_refund for 20 minutes"}
    flags_raise(subject_type=REFUND_FLAG_SUBJECT, kind="stuck", details={str(refund.id): "ready_to_refund for 2 h"})
    flags_clear(subject_type=REFUND_FLAG_SUBJECT, kind="stuck", still_holding=[], reason="left ready_to_refund")
    flags_raise(subject_type=REFUND_FLAG_SUBJECT, kind="payment_unanswered", details=subject)

    page = _page(support, refund)
    section = page[page.index('id="refund-flags"') : page.index('id="refund-receipts"')]

    assert "payment_unanswered" in section
    assert "Payment has not answered item_ready_to_refund for 20 minutes" in section
    assert "open" in section
    assert "left ready_to_refund" in section


@override_settings(REFUNDTOOL_BUSINESS_TIME_ZONE="Asia/Almaty")
def test_the_admin_shows_times_in_the_business_time_zone_and_the_api_in_utc(support):
    refund = make_refund()
    at = datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    RefundTransition.objects.filter(refund=refund, sequence=1).update(at=at)
    Refund.objects.filter(pk=refund.pk).update(created_at=at)

    page = _page(support, refund)
    changelist = support.get(reverse("admin:refundtool_refund_changelist")).content.decode()
    api = support.get(reverse("refundtool_api:refund-detail", args=[refund.pk])).json()

    assert "at (Asia/Almaty)" in page
    assert "2026-03-02 02:30:00" in page  # Almaty is UTC+5: the next day
    assert "2026-03-02 02:30" in changelist
    assert api["created_at"].startswith("2026-03-01T21:30:00")
    assert api["created_at"].endswith(("Z", "+00:00"))


def test_the_page_says_when_it_stopped_searching_dead_letters(support, unique_name, monkeypatch):
    refund = make_refund("ready_to_refund", order_number=unique_name("RU"))
    for marker in ("first-poison", "second-poison"):
        _park_dead_letter(unique_name("bob.refund_requested"), key=refund.order_number, value=marker.encode())
    monkeypatch.setattr(refunds_admin, "DEAD_LETTERS_READ_LIMIT", 1)

    page = _page(support, refund)

    assert 'id="dead-letters-note"' in page
    assert f"dlq list --key {refund.order_number}" in page
