"""The web process serves publish requests on the gateway's short handler and everything else on Django's."""

from __future__ import annotations

import uuid

import orjson
import pytest
from django.test import RequestFactory
from django.urls import reverse
from prometheus_client import REGISTRY

from events.gateway import handler
from tests.events_spec.samples import sample_message
from tests.support.wsgi import wsgi_call

pytestmark = pytest.mark.kafka

# Headers that only the admin's middleware adds (sessions and CSRF vary on the cookie; frame options).
ADMIN_STACK_HEADERS = ("X-Frame-Options", "Vary")


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_publish_prefix_is_where_the_urlconf_mounts_the_publish_route():
    assert handler.publish_path_prefix() == "/api/events/"
    assert reverse("events_gateway:publish", args=["refund.update"]).startswith(handler.publish_path_prefix())


def test_a_publish_request_skips_the_admin_middleware_and_keeps_the_security_headers(gateway, spec_topics):
    message = sample_message("refund.update", f"ORD-{uuid.uuid4().hex[:10]}")
    response = gateway().post("refund.update", message)

    assert response.status_code == 200, response.content
    assert response._handler_class is handler.GatewayHandler
    assert not any(response.has_header(name) for name in ADMIN_STACK_HEADERS)
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware ran
    assert response["Content-Length"] == str(len(response.content))  # not sent chunked


def test_every_other_path_keeps_the_whole_middleware_stack(db):
    response = wsgi_call(RequestFactory().get("/admin/login/").environ)

    assert response.status_code == 200
    assert response._handler_class is not handler.GatewayHandler
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_path_under_the_prefix_that_is_no_event_type_is_the_api_s_404(db):
    response = wsgi_call(RequestFactory().post("/api/events/a/b", b"{}", content_type="application/json").environ)

    assert response.status_code == 404
    assert response._handler_class is handler.GatewayHandler
    assert orjson.loads(response.content)["error"]["code"] == "not_found"
    assert response["Content-Length"] == str(len(response.content))


def test_a_failure_inside_the_gateway_is_a_500_with_a_machine_readable_body(gateway, spec_topics, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug in the gateway")

    monkeypatch.setattr("events.gateway.views.events_publish", broken)
    response = gateway().post("refund.update", sample_message("refund.update", "ORD-500"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert orjson.loads(response.content)["error"]["code"] == "internal_error"


def _gateway_counts() -> dict[str, float]:
    requests, events = "refundtool_gateway_requests_total", "refundtool_gateway_events_total"
    return {
        "200": _metric(requests, event_type="refund.update", status="200"),
        "422": _metric(requests, event_type="refund.update", status="422"),
        "404 unknown": _metric(requests, event_type="unknown", status="404"),
        "submitted": _metric(events, event_type="refund.update", outcome="submitted"),
        "failed": _metric(events, event_type="refund.update", outcome="failed"),
        "aborted": _metric(events, event_type="refund.update", outcome="aborted"),
        "timed": _metric("refundtool_gateway_request_seconds_count"),
    }


def test_requests_and_events_are_counted_by_event_type_and_outcome(gateway, spec_topics):
    producer = gateway()
    good = [sample_message("refund.update", f"ORD-{n}") for n in range(3)]
    bad = sample_message("refund.update", "ORD-9")
    del bad["data"]["status"]
    before = _gateway_counts()

    assert producer.post("refund.update", good).status_code == 200
    assert producer.post("refund.update", [*good[:2], bad]).status_code == 422
    assert producer.post(f"no.such_type_{uuid.uuid4().hex}", good).status_code == 404

    added = {key: value - before[key] for key, value in _gateway_counts().items()}
    assert added == {"200": 1, "422": 1, "404 unknown": 1, "submitted": 3, "failed": 1, "aborted": 2, "timed": 3}
