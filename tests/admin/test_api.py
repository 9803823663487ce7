"""The REST API: token auth, filters, cursor pages, detail with history and receipts, one error shape."""

from datetime import timedelta

import orjson
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from fiscalization.models import Receipt
from refundtool.api.services import api_token_issue
from refundtool.models import Refund
from refundtool.roles import ACCOUNTANT
from tests.admin.factories import make_refund

pytestmark = pytest.mark.django_db
LIST = reverse("refundtool_api:refund-list")


@pytest.fixture
def api(make_user) -> APIClient:
    client = APIClient()
    _, token = api_token_issue(user=make_user("reporting-bot", ACCOUNTANT), expiry=timezone.now() + timedelta(days=1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_list_filters(api):
    ru = make_refund("refunded", order_number="ru-1")
    make_refund("completed", "KZ", order_number="kz-1")
    make_refund(order_number="ru-2")
    assert [r["order_number"] for r in api.get(LIST, {"order_number": "ru-1"}).json()["results"]] == ["ru-1"]
    assert [r["order_number"] for r in api.get(LIST, {"country": "KZ"}).json()["results"]] == ["kz-1"]
    assert [r["order_number"] for r in api.get(LIST, {"status": "ready_to_refund"}).json()["results"]] == ["ru-2"]
    [row] = api.get(LIST, {"order_number": "ru-1"}).json()["results"]
    assert row["refund_id"] == str(ru.id)
    assert row["amount"] == "3648.50"
    assert row["fiscal"]["status"] == "pending"
    assert row["fiscal"]["sla"] == "running"


def test_cursor_pages_and_updated_after(api):
    refunds = [make_refund(order_number=f"page-{n}") for n in range(5)]
    earlier = timezone.now() - timedelta(hours=1)
    Refund.objects.filter(pk__in=[r.pk for r in refunds[:2]]).update(updated_at=earlier)
    seen, url = [], LIST + "?page_size=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["order_number"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(r.order_number for r in refunds)
    assert seen[:2] == sorted(["page-0", "page-1"], key=lambda n: str(Refund.objects.get(order_number=n).id))
    after = (earlier + timedelta(minutes=1)).isoformat()
    recent = api.get(LIST, {"updated_after": after}).json()["results"]
    assert {row["order_number"] for row in recent} == {"page-2", "page-3", "page-4"}


def test_detail_has_items_history_and_receipts(api):
    refund = make_refund("completed", order_number="done-1")
    Receipt.objects.filter(refund=refund).update(status="done", attempts=2, fn_number="9999078900012345")
    body = api.get(reverse("refundtool_api:refund-detail", args=[refund.id])).json()
    assert [item["sku"] for item in body["items"]] == ["SKU-KETTLE", "SKU-MUG"]
    assert [row["transition"] for row in body["history"]] == [
        "request",
        "send_to_payment",
        "confirm_payment",
        "register_receipt",
    ]
    assert body["history"][3]["actor_id"] == "fiscalization"
    [receipt] = body["receipts"]  # from fiscalization, through refundtool.receipts
    assert receipt["label"].startswith("part 1, attempt 1 (")
    assert (receipt["status"], receipt["attempts"], receipt["fn_number"]) == ("done", 2, "9999078900012345")
    assert body["fiscal"]["status"] == "done"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"status": "lost"}, "/query/status"),
        ({"updated_after": "yesterday"}, "/query/updated_after"),
        ({"updated_after": "2026-03-01T10:00:00"}, "/query/updated_after"),
        ({"order": "ORD-1"}, "/query/order"),
    ],
)
def test_bad_filters_are_a_400(api, params, path):
    error = _error(api.get(LIST, params), 400)
    assert error["code"] == "invalid_query"
    assert [d["path"] for d in error["details"]] == [path]


def test_bad_cursor_and_unknown_refund(api):
    assert _error(api.get(LIST, {"cursor": "garbage"}), 404)["code"] == "not_found"
    missing = reverse("refundtool_api:refund-detail", args=["00000000-0000-0000-0000-000000000000"])
    assert _error(api.get(missing), 404)["code"] == "not_found"


def test_authentication_and_permission_errors(make_user):
    anonymous = APIClient()
    assert _error(anonymous.get(LIST), 401)["code"] == "not_authenticated"
    anonymous.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert _error(anonymous.get(LIST), 401)["code"] == "authentication_failed"
    nobody = APIClient()
    nobody.force_authenticate(make_user("nobody"))
    assert _error(nobody.get(LIST), 403)["code"] == "permission_denied"


def test_method_not_allowed_and_unknown_paths_keep_the_shape(api):
    assert _error(api.post(LIST, {}), 405)["code"] == "method_not_allowed"
    assert _error(api.get("/api/nothing-here/"), 404)["code"] == "not_found"


def test_openapi_schema_and_swagger_ui(support):
    client = support  # the schema is for the API's users (tests/monitoring/test_ops_access.py: not anyone's)
    schema = client.get(reverse("refundtool_api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/refunds/", "/api/refunds/{refund_id}/", "/api/reports/refunds.csv"} <= set(paths)
    assert "updated_after" in {p["name"] for p in paths["/api/refunds/"]["get"]["parameters"]}
    ui = client.get(reverse("refundtool_api:swagger-ui"))
    assert ui.status_code == 200
    assert b"swagger-ui" in ui.content
    assert b"cdn" not in ui.content.lower()  # assets from the sidecar package


def test_a_server_error_under_api_keeps_the_shape(rf):
    from refundtool.api.errors import server_error

    response = server_error(rf.get("/api/refunds/"))
    assert response.status_code == 500
    assert orjson.loads(response.content)["error"]["code"] == "internal_error"
    assert b"<h1>" in server_error(rf.get("/admin/")).content


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/refunds/{refund_id}/" in (tmp_path / "schema.yaml").read_text()
