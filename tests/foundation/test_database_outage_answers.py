"""With the database down, the web process answers 503 with Retry-After, not a 500: an outage is not
the request's fault, and a client should try again."""

from __future__ import annotations

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from events.gateway.services import producer_credential_create
from tests.events_spec.samples import sample_message
from tests.support.database import database_down
from tests.support.wsgi import wsgi_call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production_errors(settings):
    settings.DEBUG = False  # with debug on, Django answers its technical 500 page instead


def test_the_gateway_answers_503_in_the_error_shape(production_errors):
    _credential, token = producer_credential_create(name="bob-ru", event_types=["bob.refund_requested"])
    body = orjson.dumps([sample_message("bob.refund_requested")])
    request = RequestFactory().post(
        "/api/events/bob.refund_requested", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    with database_down():
        response = wsgi_call(request.environ)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert orjson.loads(response.content)["error"]["code"] == "database_unavailable"


def test_the_rest_api_and_the_admin_answer_503(production_errors):
    staff = User.objects.create_superuser("ops", password="a-long-enough-password-1")
    client = Client(raise_request_exception=False)
    client.force_login(staff)

    with database_down():
        api = client.get("/api/refunds/", HTTP_AUTHORIZATION="Token not-a-real-token")
        admin = client.get("/admin/refundtool/refund/")

    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert orjson.loads(api.content)["error"]["code"] == "database_unavailable"
    assert (admin.status_code, admin["Retry-After"]) == (503, "5")
    assert b"database is not available" in admin.content
