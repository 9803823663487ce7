"""Accountants' reports: refunds of a period with VAT by rate and receipts, and the reconciliation.

Rows are produced lazily from a server-side cursor, in chunks, so memory stays flat whatever the
period holds; the writers stream CSV and fill an openpyxl write-only workbook. Dates are shown in
settings.REFUNDTOOL_BUSINESS_TIME_ZONE; money stays Decimal (numbers in XLSX, two decimals in CSV).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from events.contracts.errors import FieldError
from events.contracts.query import QueryError, choice, iso_date, query_parse
from refundtool.models import Refund, RefundItem, RefundTender
from refundtool.receipts import refund_corrections
from refundtool.selectors import SlaStatus, refunds_without_receipt, sla_of
from refundtool.states import PaymentMethod, RefundStatus, VatRate
from refundtool.validation import MARKED_PAYMENT_OBJECTS

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CHUNK_SIZE = 2000
TOTAL = "TOTAL"
RATES_WITH_VAT = [rate for rate in VatRate.values if rate != VatRate.NONE]
# What went back by each method (the refund's tenders; a version 1 refund has one, its payment method).
TENDER_COLUMNS = [f"tender {method}" for method in PaymentMethod.values]
_TENDER_INDEX = {method: index for index, method in enumerate(PaymentMethod.values)}
VAT_COLUMNS = ["goods without VAT"] + [
    heading for rate in RATES_WITH_VAT for heading in (f"goods at VAT {rate}%", f"VAT {rate}%")
]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Refunds whose money left (refunded_at) on date_from..date_to, business-time-zone days, inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    country: str | None = None
    status: str | None = None

    @property
    def period(self) -> tuple[datetime | None, datetime | None]:
        zone = business_zone()
        start = datetime.combine(self.date_from, time.min, zone) if self.date_from else None
        end = datetime.combine(self.date_to + timedelta(days=1), time.min, zone) if self.date_to else None
        return start, end

    def filter(self, queryset: QuerySet[Any], *, prefix: str = "") -> QuerySet[Any]:
        """The query's conditions on a refund queryset, or on a related one with `prefix` ("refund__")."""
        start, end = self.period
        conditions = {
            "refunded_at__gte": start,
            "refunded_at__lt": end,
            "country": self.country,
            "status": self.status,
        }
        return queryset.filter(**{prefix + name: value for name, value in conditions.items() if value is not None})

    def file_name(self, report: str, extension: str) -> str:
        today = timezone.localdate(timezone=business_zone())
        parts = [report, str(self.date_from or "start"), str(self.date_to or today)]
        parts += [value for value in (self.country, self.status) if value]
        return "_".join(parts) + "." + extension


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.REFUNDTOOL_BUSINESS_TIME_ZONE)


def report_query_parse(params: Mapping[str, Any], *, period_required: bool) -> ReportQuery:
    """Reads date_from, date_to (YYYY-MM-DD), country and status; raises QueryError naming every wrong one."""
    query = query_parse(
        params,
        {
            "date_from": iso_date(required=period_required),
            "date_to": iso_date(required=period_required),
            "country": choice(settings.REFUNDTOOL_COUNTRIES, normalize=str.upper),
            "status": choice(RefundStatus.values),
        },
    )
    if query["date_from"] and query["date_to"] and query["date_from"] > query["date_to"]:
        raise QueryError([FieldError("/query/date_to", "is before date_from")])
    return ReportQuery(**query)


# --- the refunds report ---------------------------------------------------------------------------

REFUND_FIELDS = (
    "id",
    "refund_request_id",
    "order_number",
    "country",
    "currency",
    "status",
    "payment_method",
    "amount",
    "delivery_amount",
    "requested_at",
    "refunded_at",
    "fiscal_status",
    "fn_number",
    "fiscal_document_number",
    "fiscal_document_attribute",
    "receipt_datetime",
    "ofd_receipt_url",
)
# Fetched as text: UUIDs need no UUID objects, and fromisoformat parses datetimes several times faster
# than the driver's loader does (a report reads millions of them).
REFUND_TEXT_FIELDS = ("id", "refund_request_id", "requested_at", "refunded_at", "receipt_datetime")
REFUND_DATETIME_INDEXES = tuple(
    REFUND_FIELDS.index(name) for name in ("requested_at", "refunded_at", "receipt_datetime")
)
TEXT = TextField()


@dataclass(frozen=True, slots=True)
class ReportLayout:
    """A report's columns, and which of them the writers show as business-time-zone datetimes or yes/no."""

    header: list[str]
    datetime_columns: tuple[int, ...]
    bool_columns: tuple[int, ...]


def _layout(columns: list[tuple[str, str]]) -> ReportLayout:
    """`columns` are (heading, kind) with kind "", "datetime" (the heading gets the zone) or "bool"."""
    zone = settings.REFUNDTOOL_BUSINESS_TIME_ZONE
    return ReportLayout(
        header=[f"{heading} ({zone})" if kind == "datetime" else heading for heading, kind in columns],
        datetime_columns=tuple(i for i, (_, kind) in enumerate(columns) if kind == "datetime"),
        bool_columns=tuple(i for i, (_, kind) in enumerate(columns) if kind == "bool"),
    )


def refunds_report_layout() -> ReportLayout:
    return _layout(
        [
            ("refund_id", ""),
            *((name, "") for name in REFUND_FIELDS[1:9]),
            *((heading, "") for heading in VAT_COLUMNS),
            ("requested_at", "datetime"),
            ("refunded_at", "datetime"),
            ("receipt_status", ""),
            *((name, "") for name in REFUND_FIELDS[12:15]),
            ("receipt_datetime", "datetime"),
            ("ofd_receipt_url", ""),
            ("sla_met", "bool"),
            *((heading, "") for heading in TENDER_COLUMNS),
            ("marked_items", ""),
        ]
    )


@dataclass
class CurrencyTotal:
    refunds: int = 0
    amount: Decimal = Decimal("0.00")
    delivery_amount: Decimal = Decimal("0.00")
    by_column: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_tender: list[Decimal] = field(default_factory=lambda: [ZERO] * len(TENDER_COLUMNS))
    marked_items: int = 0


def refunds_report_rows(query: ReportQuery) -> Iterator[list[Any]]:
    """One row per refund, ordered by refunded_at, then one TOTAL row per currency.

    Two ordered streams, read in one snapshot: the refunds, and their items; each refund takes the
    item rows of its id as they come and sums quantity x unit price per VAT rate. Datetimes stay in UTC and bools
    stay bools: the writers format the columns REFUNDS_DATETIME_COLUMNS and REFUNDS_BOOL_COLUMNS.
    """
    now = timezone.now()
    totals: dict[str, CurrencyTotal] = defaultdict(CurrencyTotal)
    refunds = (
        query.filter(Refund.objects.all())
        .annotate(**{f"{name}_text": Cast(name, TEXT) for name in REFUND_TEXT_FIELDS})
        .order_by("refunded_at", "id")
        .values_list(*(f"{name}_text" if name in REFUND_TEXT_FIELDS else name for name in REFUND_FIELDS))
    )
    # Items one by one, in the refunds' order: PostgreSQL streams them from the indexes (no sort of
    # the period's items), and Python sums them per rate as they come.
    items = (
        query.filter(RefundItem.objects.all(), prefix="refund__")
        .annotate(refund_id_text=Cast("refund_id", TEXT))
        .order_by("refund__refunded_at", "refund_id")
        .values_list("refund_id_text", "vat_rate", "quantity", "unit_price", "payment_object")
    )
    # The tenders the same way (a refund has one to a handful).
    tenders = (
        query.filter(RefundTender.objects.all(), prefix="refund__")
        .annotate(refund_id_text=Cast("refund_id", TEXT))
        .order_by("refund__refunded_at", "refund_id")
        .values_list("refund_id_text", "method", "amount")
    )
    with _snapshot():
        item_stream = items.iterator(chunk_size=CHUNK_SIZE)
        tender_stream = tenders.iterator(chunk_size=CHUNK_SIZE)
        pending = next(item_stream, None)
        pending_tender = next(tender_stream, None)
        for text_row in refunds.iterator(chunk_size=CHUNK_SIZE):
            row = list(text_row)
            for index in REFUND_DATETIME_INDEXES:
                row[index] = _utc(row[index])
            goods: dict[str, Decimal] = {}
            marked = 0
            while pending is not None and pending[0] == row[0]:
                goods[pending[1]] = goods.get(pending[1], ZERO) + pending[2] * pending[3]
                marked += pending[4] in MARKED_PAYMENT_OBJECTS
                pending = next(item_stream, None)
            by_tender: list[Decimal | None] = [None] * len(TENDER_COLUMNS)
            while pending_tender is not None and pending_tender[0] == row[0]:
                by_tender[_TENDER_INDEX[pending_tender[1]]] = pending_tender[2]
                pending_tender = next(tender_stream, None)
            total = totals[row[4]]
            total.refunds += 1
            total.amount += row[7]
            total.delivery_amount += row[8]
            total.marked_items += marked
            for index, amount in enumerate(by_tender):
                total.by_tender[index] += amount or ZERO
            vat = _vat_cells(goods, total.by_column)
            met = sla_of(fiscal_status=row[11], refunded_at=row[10], receipt_datetime=row[15], now=now).met
            yield [*row[:9], *vat, *row[9:], met, *by_tender, marked]
    for currency in sorted(totals):
        total = totals[currency]
        vat = [total.by_column.get(index) for index in range(len(VAT_COLUMNS))]
        # "N refunds" stands in the order_number column: a total belongs to no single refund.
        row = [TOTAL, "", f"{total.refunds} refunds", "", currency, "", "", total.amount, total.delivery_amount, *vat]
        row += [None] * (len(REFUND_FIELDS) + len(VAT_COLUMNS) + 1 - len(row))
        yield row + [amount or None for amount in total.by_tender] + [total.marked_items]


@contextmanager
def _snapshot() -> Iterator[None]:
    """One transaction, REPEATABLE READ on PostgreSQL, so that every stream of a report sees the same data."""
    outermost = not connection.in_atomic_block  # inside a caller's transaction, its isolation holds
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # Should the planner sort a long period's items rather than stream them from the
                # indexes, a sort in memory is several times faster than one on disk.
                cursor.execute("SET LOCAL work_mem = '128MB'")
        yield


# rate -> (its position among the VAT cells, percent, 100 + percent), fixed for every row.
_RATE_CELLS = {rate: (1 + 2 * i, Decimal(rate), 100 + Decimal(rate)) for i, rate in enumerate(RATES_WITH_VAT)}


def _vat_cells(goods: dict[str, Decimal], totals: dict[int, Decimal]) -> list[Decimal | None]:
    """Goods without VAT, then per rate: goods at that rate (VAT included) and the VAT they include.

    Adds the filled cells to `totals` (by cell position) on the way.
    """
    cells: list[Decimal | None] = [None] * len(VAT_COLUMNS)
    for rate, amount in goods.items():
        if rate == VatRate.NONE:
            cells[0] = amount
            totals[0] += amount
            continue
        position, percent, gross_percent = _RATE_CELLS[rate]
        vat = (amount * percent / gross_percent).quantize(CENT, rounding=ROUND_HALF_UP)
        cells[position], cells[position + 1] = amount, vat
        totals[position] += amount
        totals[position + 1] += vat
    return cells


def _utc(text: str | None) -> datetime | None:
    """A datetime column read as text: PostgreSQL writes the offset (the session is UTC), SQLite stores UTC."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- the reconciliation ---------------------------------------------------------------------------


def reconciliation_layout() -> ReportLayout:
    return _layout(
        [
            ("refund_id", ""),
            ("order_number", ""),
            ("country", ""),
            ("currency", ""),
            ("amount", ""),
            ("status", ""),
            ("receipt_status", ""),
            ("refunded_at", "datetime"),
            ("age_minutes", ""),
            ("sla_breached", "bool"),
            ("correction_receipt", ""),
        ]
    )


def reconciliation_rows(query: ReportQuery) -> Iterator[list[Any]]:
    """Refunds whose money left without a done receipt, and refunds with a correction receipt (whose
    receipt may be done by now, through the correction), oldest first, with their age at report time
    and their latest correction. Corrections are rare: they are read first, as a set of refunds."""
    now = timezone.now()
    corrections = refund_corrections(query.filter(Refund.objects.filter(refunded_at__isnull=False)))
    refunds = refunds_without_receipt() | Refund.objects.filter(id__in=list(corrections))
    queryset = query.filter(refunds).order_by("refunded_at", "id")
    fields = ("id", "order_number", "country", "currency", "amount", "status", "fiscal_status", "refunded_at")
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        refunded_at = row[7]
        age = Decimal((now - refunded_at).total_seconds() / 60).quantize(Decimal("0.1"))
        sla = sla_of(fiscal_status=row[6], refunded_at=refunded_at, receipt_datetime=None, now=now)
        yield [str(row[0]), *row[1:8], age, sla.status == SlaStatus.BREACHED, corrections.get(row[0], "")]


# --- writers --------------------------------------------------------------------------------------


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection), and
# order numbers, reasons and the provider's attributes come from outside.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets OWASP's leading apostrophe; numbers stay numbers."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _xlsx_text(sheet: Any, value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, stored as text; numbers stay numbers.

    openpyxl makes every string that starts with "=" a formula; a string cell with Excel's quote
    prefix stays text, also when someone edits it.
    """
    if not (isinstance(value, str) and value.startswith(FORMULA_STARTS)):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


class _Line:
    """csv.writer's file: hands back each line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(layout: ReportLayout, rows: Iterable[list[Any]], *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """The report as CSV (None as an empty cell), in chunks of lines, for a StreamingHttpResponse."""
    writer = csv.writer(_Line())
    zone = business_zone()
    yield writer.writerow(layout.header).encode()
    buffer: list[str] = []
    for row in rows:
        for index in layout.datetime_columns:
            if row[index] is not None:
                row[index] = row[index].astimezone(zone).isoformat(" ", "seconds")[:19]
        for index in layout.bool_columns:
            if row[index] is not None:
                row[index] = "yes" if row[index] else "no"
        buffer.append(writer.writerow([_csv_text(value) for value in row]))
        if len(buffer) >= lines_per_chunk:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def xlsx_write(layout: ReportLayout, rows: Iterable[list[Any]], file: IO[bytes], *, title: str) -> None:
    """The report as an XLSX workbook in openpyxl's write-only mode: rows go to disk as they come.

    Money stays Decimal, so cells are numbers; datetimes are the business zone's wall-clock time
    (Excel has no time zones; the header names the zone).
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for heading in layout.header:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    zone = business_zone()
    for row in rows:
        for index in layout.datetime_columns:
            if row[index] is not None:
                row[index] = row[index].astimezone(zone).replace(tzinfo=None)
        for index in layout.bool_columns:
            if row[index] is not None:
                row[index] = "yes" if row[index] else "no"
        sheet.append([_xlsx_text(sheet, value) for value in row])
    workbook.save(file)
