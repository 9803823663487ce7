"""A credential's events are its own: its name as metadata.producer, its countries, its rate; the audit
trail names it."""

import uuid

import orjson
import pytest

from refundtool.handlers import handle_refund_requested
from refundtool.models import RefundTransition
from tests.events_spec.samples import sample_message
from tests.monitoring.helpers import incoming  # the consumer's view of a message

pytestmark = pytest.mark.kafka


def _refusal(response) -> dict:
    assert response.status_code == 403, response.content
    error = orjson.loads(response.content)["error"]
    assert error["code"] == "forbidden"
    return error


def _order() -> str:
    return f"ORD-{uuid.uuid4().hex[:12]}"


def test_an_event_naming_another_producer_is_refused_with_403_and_nothing_is_written(gateway):
    producer = gateway(name="bob-ru")
    own = sample_message("refund.update", _order(), producer="bob-ru")
    foreign = sample_message("refund.update", _order(), producer="payment")
    error = _refusal(producer.post("refund.update", [own, foreign], stamp=False))
    assert "bob-ru" in error["message"]
    assert [event["status"] for event in error["events"]] == ["aborted", "failed"]
    [detail] = error["events"][1]["errors"]
    assert detail["path"] == "/metadata/producer"
    assert "'bob-ru'" in detail["message"]

    foreign["metadata"]["producer"] = "bob-ru"
    assert producer.post("refund.update", [own, foreign], stamp=False).status_code == 200


def test_a_credential_limited_to_countries_may_publish_only_their_events(gateway):
    kazakh = gateway(["bob.refund_requested", "refund.update"], countries=("KZ",))
    russian = sample_message("refund.update", _order())  # metadata.country RU
    error = _refusal(kazakh.post("refund.update", russian))
    assert [e["path"] for e in error["events"][0]["errors"]] == ["/metadata/country", "/data/country"]

    # The envelope's country alone does not decide: a payload's own country is checked too.
    smuggled = sample_message("bob.refund_requested", _order())
    smuggled["metadata"]["country"] = "KZ"
    error = _refusal(kazakh.post("bob.refund_requested", smuggled))
    assert [e["path"] for e in error["events"][0]["errors"]] == ["/data/country"]

    unlimited = gateway(["refund.update"])
    assert unlimited.post("refund.update", sample_message("refund.update", _order())).status_code == 200


def test_past_its_rate_a_credential_gets_429_with_retry_after_and_others_do_not(gateway, settings, redis_client):
    settings.EVENTS_GATEWAY_RATE_LIMIT = 2
    settings.EVENTS_GATEWAY_RATE_WINDOW_SECONDS = 60
    busy, other = gateway(["refund.update"]), gateway(["refund.update"])
    for _ in range(2):
        assert busy.post("refund.update", sample_message("refund.update", _order())).status_code == 200
    response = busy.post("refund.update", sample_message("refund.update", _order()))
    assert response.status_code == 429, response.content
    assert orjson.loads(response.content)["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert other.post("refund.update", sample_message("refund.update", _order())).status_code == 200
    # The count lives in Redis, where every web process of every container adds to it.
    assert any(key.startswith(b":1:gateway-rate:") for key in redis_client.scan_iter("*gateway-rate:*"))


@pytest.mark.django_db
def test_the_audit_trail_names_the_gateway_credential():
    message = sample_message("bob.refund_requested", _order(), producer="bob-ru")
    message["metadata"]["received_at"] = "2026-03-02T10:00:00+00:00"  # what the gateway adds

    handle_refund_requested(incoming(message))
    direct = sample_message("bob.refund_requested", _order(), producer="bob-ru")
    handle_refund_requested(incoming(direct))

    actors = dict(RefundTransition.objects.filter(source="").values_list("refund__order_number", "actor_id"))
    assert actors[message["data"]["order_number"]] == "gateway:bob-ru"
    assert actors[direct["data"]["order_number"]] == "bob-ru"  # written to Kafka by the system itself


def test_while_the_cache_does_not_answer_the_gateway_stays_open(gateway, settings, monkeypatch, caplog):
    from events.gateway import throttling

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    settings.EVENTS_GATEWAY_RATE_LIMIT = 1
    monkeypatch.setattr(throttling.cache, "incr", down)
    monkeypatch.setattr(throttling.cache, "add", down)
    monkeypatch.setattr(throttling, "_last_logged", float("-inf"))
    producer = gateway(["refund.update"])
    for _ in range(3):
        assert producer.post("refund.update", sample_message("refund.update", _order())).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name == "events.gateway.throttling"] == [
        "gateway rate limits are off: the cache does not answer (ConnectionError)"
    ]
