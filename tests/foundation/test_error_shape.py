"""Every JSON error the service serves has the one shape (events.contracts.errors), whoever serves it.

The Burrow-compatible lag endpoints are the one documented exception; their tests check Burrow's envelope.
"""

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from tests.support.wsgi import wsgi_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("shape", "shape@example.com", "pw-shape-123"))
    return client


def assert_one_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert list(body) == ["error"], body
    error = body["error"]
    assert {"code", "message", "details"} <= set(error), error
    assert isinstance(error["code"], str)
    assert error["message"]
    assert all(set(detail) == {"path", "message"} for detail in error["details"])
    return error


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/refunds/?status=lost", 400, "invalid_query"),  # REST API
        ("/api/refunds/00000000-0000-0000-0000-000000000000/", 404, "not_found"),
        ("/api/reports/refunds.csv?date_from=1+March", 400, "invalid_query"),  # reports
        ("/api/fiscal/receipts/breached?limit=0", 400, "invalid_query"),  # the fiscal API
        ("/monitoring/responses?limit=0", 400, "invalid_query"),  # monitoring
        ("/admin/monitoring/?range=1w", 400, "invalid_query"),  # the monitoring page
        ("/api/event-types/refund.update/schema?version=x", 400, "invalid_query"),  # the gateway's reads
        ("/api/event-types/no.such/schema", 404, "unknown_event_type"),
        ("/api/nothing-here/", 404, "not_found"),
    ],
)
def test_every_family_of_endpoints_answers_errors_in_the_one_shape(staff, path, status, code):
    error = assert_one_shape(staff.get(path), status)
    assert error["code"] == code
    if code == "invalid_query":
        assert all(detail["path"].startswith("/query/") for detail in error["details"])


def test_monitorings_405_has_the_one_shape(staff):
    assert assert_one_shape(staff.post("/monitoring/responses"), 405)["code"] == "method_not_allowed"


def test_the_gateway_publish_route_answers_in_the_one_shape_with_its_events():
    request = RequestFactory().post("/api/events/refund.update", b"[]", content_type="application/json")
    error = assert_one_shape(wsgi_call(request.environ), 401)
    assert error["code"] == "unauthenticated"
    assert error["events"] == []
