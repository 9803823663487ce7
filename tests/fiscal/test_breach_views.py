"""The SLA breach list: the JSON endpoint for on-call and the admin list for support."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from fiscalization.models import Receipt
from fiscalization.services import receipts_sweep
from tests.fiscal.factories import refunded_refund

pytestmark = pytest.mark.django_db
URL = "/api/fiscal/receipts/breached"


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("oncall", password="x", is_staff=True, is_superuser=True)


def breach() -> Receipt:
    receipt = Receipt.objects.get(refund=refunded_refund())
    receipts_sweep(now=receipt.deadline + timedelta(seconds=5))
    receipt.refresh_from_db()
    return receipt


def test_the_endpoint_lists_breached_receipts_newest_first(fiscal_emulator, staff):
    breached = breach()
    Receipt.objects.get(refund=refunded_refund())  # on time: not listed
    client = APIClient()
    client.force_authenticate(staff)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["external_id"] == breached.external_id
    assert row["refund_id"] == str(breached.refund_id)
    assert row["order_number"] == breached.refund.order_number
    assert row["status"] == "pending"
    assert row["breached_at"] is not None
    assert row["deadline"] is not None


def test_the_endpoint_needs_staff(fiscal_emulator):
    assert APIClient().get(URL).status_code in {401, 403}
    user = get_user_model().objects.create_user("customer", password="x")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("limit", ["0", "abc", "100000"])
def test_a_bad_limit_is_a_400_naming_the_parameter(fiscal_emulator, staff, limit):
    client = APIClient()
    client.force_authenticate(staff)
    response = client.get(URL, {"limit": limit})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_query"
    assert [detail["path"] for detail in error["details"]] == ["/query/limit"]


def test_the_admin_breach_list_shows_the_breached_receipt_only(fiscal_emulator, staff, client):
    breached = breach()
    on_time = Receipt.objects.get(refund=refunded_refund())
    client.force_login(staff)
    page = client.get("/admin/fiscalization/breachedreceipt/")
    assert page.status_code == 200
    assert breached.external_id in page.content.decode()
    assert on_time.external_id not in page.content.decode()
    assert client.get("/admin/fiscalization/receipt/").status_code == 200
    assert client.get(f"/admin/fiscalization/receipt/{breached.id}/change/").status_code == 200
