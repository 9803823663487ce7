"""Accountants' reports: rows, VAT by rate, totals per currency, business time zone, XLSX types, bad input."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.db.models import Count, Sum
from django.urls import reverse

from refundtool.models import Refund
from tests.admin.factories import age, make_refund

pytestmark = pytest.mark.django_db
CSV_URL = reverse("refundtool_api:report-refunds-csv")
XLSX_URL = reverse("refundtool_api:report-refunds-xlsx")
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


def _refunded_at(refund: Refund, moment: datetime) -> Refund:
    Refund.objects.filter(pk=refund.pk).update(refunded_at=moment)
    refund.refresh_from_db()
    return refund


@pytest.fixture
def march():
    """RU and KZ refunds whose money left in March (Moscow time), and two that did not."""
    refunds = {
        "ru-done": _refunded_at(make_refund("completed", order_number="ru-done"), datetime(2026, 3, 2, 9, tzinfo=UTC)),
        "ru-late": _refunded_at(make_refund("refunded", order_number="ru-late"), datetime(2026, 3, 31, 20, tzinfo=UTC)),
        "kz": _refunded_at(make_refund("completed", "KZ", order_number="kz"), datetime(2026, 3, 15, tzinfo=UTC)),
        # 21:30 UTC on 31 March is 00:30 on 1 April in Moscow: April's.
        "april": _refunded_at(
            make_refund("completed", order_number="april"), datetime(2026, 3, 31, 21, 30, tzinfo=UTC)
        ),
    }
    make_refund(order_number="no-money-yet")
    return refunds


def _csv(client, url=CSV_URL, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_rows_vat_and_totals_match_the_database(accountant, march):
    rows = _csv(accountant, **MARCH)
    refunds = [row for row in rows if row["refund_id"] != "TOTAL"]
    totals = {row["currency"]: row for row in rows if row["refund_id"] == "TOTAL"}

    assert [row["order_number"] for row in refunds] == ["ru-done", "kz", "ru-late"]  # by refunded_at
    done = refunds[0]
    assert done["amount"] == "3648.50"
    assert done["goods at VAT 22%"] == "2998.00"
    assert done["VAT 22%"] == "540.62"  # 2998.00 x 22 / 122
    assert done["goods at VAT 20%"] == "350.50"
    assert done["VAT 20%"] == "58.42"
    assert done["VAT 10%"] == ""
    assert done["refunded_at (Europe/Moscow)"] == "2026-03-02 12:00:00"
    assert done["receipt_status"] == "done"
    assert done["fn_number"] == "9999078900012345"
    assert done["sla_met"] == "yes"
    assert refunds[2]["sla_met"] == "no"  # still pending long after its deadline
    assert refunds[1]["sla_met"] == ""  # KZ: no receipt is due

    in_march = Refund.objects.filter(order_number__in=["ru-done", "ru-late", "kz"])
    expected = {
        row["currency"]: row for row in in_march.values("currency").annotate(n=Count("id"), amount=Sum("amount"))
    }
    assert set(totals) == set(expected) == {"RUB", "KZT"}
    for currency, total in totals.items():
        assert Decimal(total["amount"]) == expected[currency]["amount"]
        assert total["order_number"] == f"{expected[currency]['n']} refunds"
    assert totals["RUB"]["VAT 22%"] == "1081.24"


def test_filters_by_country_and_status(accountant, march):
    assert [r["order_number"] for r in _csv(accountant, **MARCH, country="KZ") if r["refund_id"] != "TOTAL"] == ["kz"]
    assert [r["order_number"] for r in _csv(accountant, **MARCH, status="refunded") if r["refund_id"] != "TOTAL"] == [
        "ru-late"
    ]
    april = _csv(accountant, date_from="2026-04-01", date_to="2026-04-30")
    assert [r["order_number"] for r in april if r["refund_id"] != "TOTAL"] == ["april"]


def test_xlsx_has_numbers_dates_and_the_period_in_its_name(accountant, march):
    response = accountant.get(XLSX_URL, {**MARCH, "country": "RU"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="refunds_2026-03-01_2026-03-31_RU.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    data = [dict(zip(header, row, strict=True)) for row in rows]
    assert [row["order_number"] for row in data] == ["ru-done", "ru-late", "2 refunds"]
    assert data[0]["amount"] == pytest.approx(3648.50)
    assert isinstance(data[0]["amount"], float | int)
    assert isinstance(data[0]["VAT 22%"], float | int)
    assert data[0]["refunded_at (Europe/Moscow)"] == datetime(2026, 3, 2, 12, 0)
    assert data[2]["amount"] == pytest.approx(7297.00)


def test_csv_file_name_carries_the_period(accountant, march):
    response = accountant.get(CSV_URL, MARCH)
    assert response["Content-Disposition"] == 'attachment; filename="refunds_2026-03-01_2026-03-31.csv"'


def test_reconciliation_lists_money_out_without_a_done_receipt(accountant):
    late = age(make_refund("refunded", order_number="late"), refunded_at=timedelta(minutes=30))
    make_refund("fiscal_failed", order_number="failed")
    make_refund("completed", order_number="done")
    make_refund("completed", "KZ", order_number="kz")
    rows = _csv(accountant, reverse("refundtool_api:report-reconciliation-csv"))
    assert [row["order_number"] for row in rows] == ["late", "failed"]
    assert 29.9 < float(rows[0]["age_minutes"]) < 31
    assert rows[0]["sla_breached"] == "yes"
    assert rows[0]["refund_id"] == str(late.id)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"date_to": "2026-03-31"}, "/query/date_from"),
        ({"date_from": "2026-03-01"}, "/query/date_to"),
        ({"date_from": "2026-02-30", "date_to": "2026-03-31"}, "/query/date_from"),
        ({"date_from": "1 March", "date_to": "2026-03-31"}, "/query/date_from"),
        ({"date_from": "2026-03-31", "date_to": "2026-03-01"}, "/query/date_to"),
        ({**MARCH, "country": "DE"}, "/query/country"),
        ({**MARCH, "status": "lost"}, "/query/status"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(accountant, params, path):
    for url in (CSV_URL, XLSX_URL):
        response = accountant.get(url, params, HTTP_ACCEPT="text/csv")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_query"
        assert [detail["path"] for detail in error["details"]] == [path]


def test_only_accountants_download(support, client):
    assert support.get(CSV_URL, MARCH).json()["error"]["code"] == "permission_denied"
    anonymous = client.get(CSV_URL, MARCH)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
