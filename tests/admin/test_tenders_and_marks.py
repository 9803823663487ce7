"""Issue 22 for support and accountants: tenders and marks on the refund page, search by marking code,
tender and marked-item columns in the refunds report, corrected refunds in the reconciliation."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from fiscalization.models import Receipt, ReceiptStatus
from fiscalization.services import correction_receipt_request
from refundtool.models import Refund
from refundtool.services import Actor, refund_request
from tests.admin.factories import make_refund
from tests.domain.factories import MARK_CODES, bob, pay, request_v2_data

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:refundtool_refund_changelist")
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


def v2_refund(**overrides) -> Refund:
    """Card 3000.00 and bonus points 648.50; two kettles (item 1) marked, a code each."""
    return refund_request(data=request_v2_data(**overrides), actor=bob())


def in_march(refund: Refund) -> Refund:
    Refund.objects.filter(pk=refund.pk).update(refunded_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    refund.refresh_from_db()
    return refund


def csv_rows(client, name: str, **params) -> list[dict[str, str]]:
    response = client.get(reverse(f"refundtool_api:report-{name}-csv"), params)
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_refund_page_shows_tenders_and_marking_codes(support):
    refund = v2_refund()
    page = support.get(reverse("admin:refundtool_refund_change", args=[refund.pk])).content.decode()
    assert page.count('class="tender-row"') == 2
    assert "Bonus points" in page
    assert "648.50 RUB" in page
    assert page.count('class="mark-row"') == 2
    assert MARK_CODES[0] in page
    assert "04690123456783" in page


@pytest.mark.parametrize(
    "as_typed",
    [
        lambda code: code,  # the base64 BOB sends
        lambda code: base64.b64decode(code).decode(),  # the scan, GS separators included
        lambda code: "(01)04690123456783(21)5hT9qL2xW8p01",  # as printed under the DataMatrix
    ],
)
def test_support_finds_a_refund_by_its_marking_code(support, as_typed):
    refund = v2_refund()
    other = request_v2_data()
    other["items"][0]["marks"] = [{"code": MARK_CODES[2]}, {"code": MARK_CODES[3]}]
    refund_request(data=other, actor=bob())
    response = support.get(CHANGELIST, {"q": as_typed(MARK_CODES[1])})
    assert [row.pk for row in response.context["cl"].result_list] == [refund.pk]


def test_the_refunds_report_has_a_column_per_tender_method_and_the_marked_items(accountant):
    split = in_march(pay(v2_refund(), at=timezone.now()))
    single = in_march(make_refund("completed", order_number="v1-card"))
    rows = {row["order_number"]: row for row in csv_rows(accountant, "refunds", **MARCH)}
    assert (rows[split.order_number]["tender card"], rows[split.order_number]["tender bonus_points"]) == (
        "3000.00",
        "648.50",
    )
    assert rows[split.order_number]["tender sbp"] == ""
    assert rows[split.order_number]["marked_items"] == "1"  # one item (two kettles), marked
    assert (rows["v1-card"]["tender card"], rows["v1-card"]["marked_items"]) == (f"{single.amount:.2f}", "0")
    total = rows["2 refunds"]
    assert (total["tender card"], total["tender bonus_points"], total["marked_items"]) == (
        f"{single.amount + 3000:.2f}",
        "648.50",
        "1",
    )


def test_the_reconciliation_shows_corrected_refunds_with_their_correction(accountant):
    corrected = in_march(make_refund("completed", order_number="corrected"))
    in_march(make_refund("completed", order_number="fine"))
    # The domain's factory records the receipt on the refund; fiscalization's own rows say done too.
    Receipt.objects.update(status=ReceiptStatus.DONE)
    correction = correction_receipt_request(
        refund_id=corrected.id,
        correction_type="self",
        base_date=date(2026, 3, 3),
        base_number="1",
        reason="wrong VAT on the receipt",
        actor=Actor.user("support.anna"),
    )
    rows = csv_rows(accountant, "reconciliation", **MARCH)
    assert [(row["order_number"], row["correction_receipt"]) for row in rows] == [
        ("corrected", f"pending {correction.external_id}")
    ]
