"""The dead-letter admin page: list and filter, show, replay and discard with a reason, broker down."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from events.messaging.dead_letters import DeadLetterPublisher
from events.messaging.embedded_broker import free_port
from events.messaging.models import DeadLetterDecision
from tests.support.kafka import create_topic, produce_one_by_one, read_all

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]
LIST = reverse("admin:events_deadletterdecision_changelist")


def _parked(topic: str, values: list[bytes]) -> str:
    """`values` consumed from `topic` and parked in `topic.dlq`; returns the DLQ topic."""
    create_topic(topic)
    create_topic(topic + ".dlq")
    produce_one_by_one(topic, values, key=b"ORDER-9")
    publisher = DeadLetterPublisher(group="refundtool-test")
    for message in read_all(topic, expect=len(values)):
        publisher.send(message, error_class="MalformedMessage", error_message="not JSON")
    publisher.flush()
    return topic + ".dlq"


def _letter(dlq: str, offset: int = 0, action: str = "") -> str:
    if action:
        return reverse("admin:events_deadletter_decide", args=[dlq, 0, offset, action])
    return reverse("admin:events_deadletter", args=[dlq, 0, offset])


def _rows(response) -> list[tuple[str, int, int, str]]:
    assert response.status_code == 200
    return [
        (letter.topic, letter.partition, letter.offset, letter.decision.action if letter.decision else "open")
        for letter in response.context["letters"]
    ]


def test_list_filters_by_topic_and_decision(superuser, unique_name):
    first = _parked(unique_name("orders"), [b"{bad", b"{worse"])
    second = _parked(unique_name("orders"), [b"{other"])
    DeadLetterDecision.objects.create(dlq_topic=first, partition=0, offset=1, action="discard", actor="x", reason="y")

    assert _rows(superuser.get(LIST, {"topic": first})) == [(first, 0, 0, "open"), (first, 0, 1, "discard")]
    assert _rows(superuser.get(LIST, {"topic": second})) == [(second, 0, 0, "open")]
    assert _rows(superuser.get(LIST, {"topic": first, "decision": "discard"})) == [(first, 0, 1, "discard")]
    assert _rows(superuser.get(LIST, {"topic": first, "decision": "open"})) == [(first, 0, 0, "open")]
    page = superuser.get(LIST).content.decode()
    assert first in page
    assert second in page
    assert "not a dead-letter topic" in superuser.get(LIST, {"topic": "orders"}).content.decode()


def test_show_replay_with_a_reason(superuser, unique_name):
    dlq = _parked(unique_name("orders"), [b'{"order": "ORDER-9"}'])
    page = superuser.get(_letter(dlq)).content.decode()
    assert "MalformedMessage: not JSON" in page
    assert "&quot;order&quot;: &quot;ORDER-9&quot;" in page  # the value, pretty-printed
    assert 'id="replay"' in page

    confirmation = superuser.get(_letter(dlq, action="replay"))
    assert confirmation.status_code == 200
    assert b'name="reason"' in confirmation.content
    refused = superuser.post(_letter(dlq, action="replay"), {"reason": " "})
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    assert not DeadLetterDecision.objects.exists()

    done = superuser.post(_letter(dlq, action="replay"), {"reason": "handler fixed in 1.4.2"})

    assert done.status_code == 302
    decision = DeadLetterDecision.objects.get()
    assert (decision.action, decision.actor, decision.reason) == ("replay", "root", "handler fixed in 1.4.2")
    original, replayed = read_all(dlq.removesuffix(".dlq"), expect=2)
    assert replayed.value() == original.value()


def test_discard_then_a_second_decision_is_a_message(superuser, unique_name):
    dlq = _parked(unique_name("orders"), [b"{bad"])
    superuser.post(_letter(dlq, action="discard"), {"reason": "test order"})
    second = superuser.post(_letter(dlq, action="replay"), {"reason": "changed my mind"})
    assert second.status_code == 302
    *_, message = get_messages(second.wsgi_request)
    assert "already decided" in message.message
    assert list(DeadLetterDecision.objects.values_list("action", flat=True)) == ["discard"]
    assert 'id="replay"' not in superuser.get(_letter(dlq)).content.decode()


def test_missing_letter_and_unknown_action(superuser, unique_name):
    dlq = _parked(unique_name("orders"), [b"{bad"])
    assert "no dead letter" in superuser.get(_letter(dlq, offset=5)).content.decode()
    assert superuser.get(_letter(dlq, action="shred")).status_code == 404


def test_a_broker_that_cannot_be_reached_is_a_message(superuser, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS = 1
    for url in (LIST, _letter("orders.dlq")):
        response = superuser.get(url)
        assert response.status_code == 200
        assert "The Kafka broker could not be read" in response.content.decode()
    decide = superuser.post(_letter("orders.dlq", action="discard"), {"reason": "x"})
    assert decide.status_code == 302
    assert not DeadLetterDecision.objects.exists()


def test_only_operators_see_and_decide(support, make_user, client, unique_name):
    assert support.get(LIST).status_code == 403
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_deadletterdecision"))
    client.force_login(viewer)
    dlq = _parked(unique_name("orders"), [b"{bad"])
    assert client.get(LIST, {"topic": dlq}).status_code == 200
    assert 'id="replay"' not in client.get(_letter(dlq)).content.decode()
    assert client.post(_letter(dlq, action="discard"), {"reason": "x"}).status_code == 403
