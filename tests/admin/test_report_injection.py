"""Report cells a spreadsheet would run as formulas are written as text (OWASP); numbers stay numbers."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from refundtool.models import Refund
from refundtool.reports import ReportLayout, csv_lines, xlsx_write
from tests.admin.factories import make_refund

HOSTILE = ['=HYPERLINK("https://evil.example","x")', "+7 (916) 1+1", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=1"]
LAYOUT = ReportLayout(header=["text", "amount", "count"], datetime_columns=(), bool_columns=())


def _rows() -> list[list[object]]:
    return [[text, Decimal("-150.25"), -3] for text in HOSTILE] + [["plain", Decimal("10.00"), 1]]


def test_csv_cells_that_start_like_a_formula_get_a_leading_apostrophe():
    content = b"".join(csv_lines(LAYOUT, _rows())).decode()
    rows = list(csv.reader(io.StringIO(content, newline="")))[1:]
    assert [row[0] for row in rows] == [f"'{text}" for text in HOSTILE] + ["plain"]
    assert {(row[1], row[2]) for row in rows[:-1]} == {("-150.25", "-3")}  # a negative number is no formula


def test_xlsx_cells_that_start_like_a_formula_are_text_and_numbers_stay_numbers(tmp_path):
    path = tmp_path / "report.xlsx"
    with path.open("wb") as file:
        xlsx_write(LAYOUT, _rows(), file, title="refunds")
    sheet = openpyxl.load_workbook(path).active
    cells = list(sheet.iter_rows(min_row=2))
    assert [row[0].value for row in cells] == [*HOSTILE, "plain"]
    assert {row[0].data_type for row in cells} == {"s"}  # never "f", a formula
    assert all(row[0].quotePrefix for row in cells[:-1])
    assert {(row[1].value, row[1].data_type, row[2].value) for row in cells[:-1]} == {(-150.25, "n", -3)}


@pytest.mark.django_db
def test_a_hostile_order_number_and_provider_link_reach_the_downloads_as_text(accountant):
    refund = make_refund("completed", order_number="ord-1")
    Refund.objects.filter(pk=refund.pk).update(
        order_number="=cmd|' /C calc'!A0", ofd_receipt_url="@SUM(1+1)", refunded_at=datetime(2026, 3, 2, 9, tzinfo=UTC)
    )
    period = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    response = accountant.get(reverse("refundtool_api:report-refunds-csv"), period)
    [row, _total] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["order_number"], row["ofd_receipt_url"]) == ("'=cmd|' /C calc'!A0", "'@SUM(1+1)")
    response = accountant.get(reverse("refundtool_api:report-refunds-xlsx"), period)
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [cell.value for cell in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    assert (cells["order_number"].value, cells["order_number"].data_type) == ("=cmd|' /C calc'!A0", "s")
    assert (cells["amount"].data_type, cells["ofd_receipt_url"].data_type) == ("n", "s")
