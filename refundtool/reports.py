"""Accountants' reports: refunds of a period with VAT by rate and receipts, and the reconciliation.

Rows are produced lazily from a server-side cursor, in chunks, so memory stays flat whatever the
period holds; the writers stream CSV and fill an openpyxl write-only workbook. Dates are shown in
settings.BUSINESS_TIME_ZONE; money stays Decimal (numbers in XLSX, two decimals in CSV).
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import DecimalField, F, QuerySet, Sum
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from events.errors import FieldError
from refundtool.models import Refund, RefundItem
from refundtool.selectors import SlaStatus, refunds_without_receipt, sla_of
from refundtool.states import RefundStatus, VatRate

CENT = Decimal("0.01")
CHUNK_SIZE = 2000
GOODS_FIELD = DecimalField(max_digits=20, decimal_places=2)
TOTAL = "TOTAL"
RATES_WITH_VAT = [rate for rate in VatRate.values if rate != VatRate.NONE]
VAT_COLUMNS = ["goods without VAT"] + [
    heading for rate in RATES_WITH_VAT for heading in (f"goods at VAT {rate}%", f"VAT {rate}%")
]


class ReportParametersError(Exception):
    """The query parameters are wrong; `errors` name each one ("/date_from")."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))


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

    def filter(self, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        start, end = self.period
        if start:
            queryset = queryset.filter(refunded_at__gte=start)
        if end:
            queryset = queryset.filter(refunded_at__lt=end)
        if self.country:
            queryset = queryset.filter(country=self.country)
        if self.status:
            queryset = queryset.filter(status=self.status)
        return queryset

    def file_name(self, report: str, extension: str) -> str:
        today = timezone.localdate(timezone=business_zone())
        parts = [report, str(self.date_from or "start"), str(self.date_to or today)]
        parts += [value for value in (self.country, self.status) if value]
        return "_".join(parts) + "." + extension


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.BUSINESS_TIME_ZONE)


def report_query_parse(params: Mapping[str, str], *, period_required: bool) -> ReportQuery:
    """Reads date_from, date_to (YYYY-MM-DD), country and status; every wrong one is reported at once."""
    errors: list[FieldError] = []
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        raw = (params.get(name) or "").strip()
        dates[name] = None
        if not raw:
            if period_required:
                errors.append(FieldError(f"/{name}", "is required (YYYY-MM-DD)"))
            continue
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            with contextlib.suppress(ValueError):
                dates[name] = date.fromisoformat(raw)
        if dates[name] is None:
            errors.append(FieldError(f"/{name}", f"{raw!r} is not a date (YYYY-MM-DD)"))
    if dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
        errors.append(FieldError("/date_to", "is before date_from"))
    country = (params.get("country") or "").strip().upper() or None
    if country and country not in settings.REFUNDTOOL_COUNTRIES:
        errors.append(FieldError("/country", f"{country!r} is not one of {', '.join(settings.REFUNDTOOL_COUNTRIES)}"))
    status = (params.get("status") or "").strip() or None
    if status and status not in RefundStatus.values:
        errors.append(FieldError("/status", f"{status!r} is not one of {', '.join(RefundStatus.values)}"))
    if errors:
        raise ReportParametersError(errors)
    return ReportQuery(date_from=dates["date_from"], date_to=dates["date_to"], country=country, status=status)


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


def refunds_report_header() -> list[str]:
    zone = settings.BUSINESS_TIME_ZONE
    return [
        "refund_id",
        "refund_request_id",
        "order_number",
        "country",
        "currency",
        "status",
        "payment_method",
        "amount",
        "delivery_amount",
        *VAT_COLUMNS,
        f"requested_at ({zone})",
        f"refunded_at ({zone})",
        "receipt_status",
        "fn_number",
        "fiscal_document_number",
        "fiscal_document_attribute",
        f"receipt_datetime ({zone})",
        "ofd_receipt_url",
        "sla_met",
    ]


@dataclass
class CurrencyTotal:
    refunds: int = 0
    amount: Decimal = Decimal("0.00")
    delivery_amount: Decimal = Decimal("0.00")
    by_column: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def refunds_report_rows(query: ReportQuery) -> Iterator[list[Any]]:
    """One row per refund, ordered by refunded_at, then one TOTAL row per currency.

    Values are Python values (str, Decimal, aware datetime in the business zone, bool or None);
    the writers format them.
    """
    zone = business_zone()
    now = timezone.now()
    totals: dict[str, CurrencyTotal] = defaultdict(CurrencyTotal)
    queryset = query.filter(Refund.objects.all()).order_by("refunded_at", "id").values_list(*REFUND_FIELDS)
    for chunk in _chunks(queryset.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
        goods = _goods_by_rate([row[0] for row in chunk])
        for row in chunk:
            vat = _vat_cells(goods.get(row[0], {}))
            total = totals[row[4]]
            total.refunds += 1
            total.amount += row[7]
            total.delivery_amount += row[8]
            for index, value in enumerate(vat):
                if value is not None:
                    total.by_column[index] += value
            yield [
                str(row[0]),
                str(row[1]),
                *row[2:9],
                *vat,
                _local(row[9], zone),
                _local(row[10], zone),
                *row[11:15],
                _local(row[15], zone),
                row[16],
                _sla_met(row, now),
            ]
    for currency in sorted(totals):
        total = totals[currency]
        vat = [total.by_column.get(index) for index in range(len(VAT_COLUMNS))]
        # "N refunds" stands in the order_number column: a total belongs to no single refund.
        yield [TOTAL, "", f"{total.refunds} refunds", "", currency, "", "", total.amount, total.delivery_amount, *vat]


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _goods_by_rate(refund_ids: list[UUID]) -> dict[UUID, dict[str, Decimal]]:
    """Quantity x unit price of the refunds' items, summed per VAT rate, in one grouped query."""
    result: dict[UUID, dict[str, Decimal]] = defaultdict(dict)
    rows = (
        RefundItem.objects.filter(refund_id__in=refund_ids)
        .values_list("refund_id", "vat_rate")
        .annotate(goods=Sum(F("quantity") * F("unit_price"), output_field=GOODS_FIELD))
        .order_by()
    )
    for refund_id, rate, goods in rows:
        result[refund_id][rate] = goods
    return result


def _vat_cells(goods: dict[str, Decimal]) -> list[Decimal | None]:
    """Goods without VAT, then per rate: goods at that rate (VAT included) and the VAT they include."""
    cells: list[Decimal | None] = [goods.get(VatRate.NONE)]
    for rate in RATES_WITH_VAT:
        amount = goods.get(rate)
        if amount is None:
            cells += [None, None]
        else:
            percent = Decimal(rate)
            cells += [amount, (amount * percent / (100 + percent)).quantize(CENT, rounding=ROUND_HALF_UP)]
    return cells


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return value.astimezone(zone) if value is not None else None


def _sla_met(row: tuple[Any, ...], now: datetime) -> bool | None:
    return sla_of(fiscal_status=row[11], refunded_at=row[10], receipt_datetime=row[15], now=now).met


# --- the reconciliation ---------------------------------------------------------------------------


def reconciliation_header() -> list[str]:
    zone = settings.BUSINESS_TIME_ZONE
    return [
        "refund_id",
        "order_number",
        "country",
        "currency",
        "amount",
        "status",
        "receipt_status",
        f"refunded_at ({zone})",
        "age_minutes",
        "sla_breached",
    ]


def reconciliation_rows(query: ReportQuery) -> Iterator[list[Any]]:
    """Refunds whose money left without a done receipt, oldest first, with their age at report time."""
    zone = business_zone()
    now = timezone.now()
    queryset = query.filter(refunds_without_receipt()).order_by("refunded_at", "id")
    fields = ("id", "order_number", "country", "currency", "amount", "status", "fiscal_status", "refunded_at")
    for row in queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        refunded_at = row[7]
        age = Decimal((now - refunded_at).total_seconds() / 60).quantize(Decimal("0.1"))
        sla = sla_of(fiscal_status=row[6], refunded_at=refunded_at, receipt_datetime=None, now=now)
        yield [str(row[0]), *row[1:7], _local(refunded_at, zone), age, sla.status == SlaStatus.BREACHED]


# --- writers --------------------------------------------------------------------------------------


class _Line:
    """csv.writer's file: hands back each line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: list[str], rows: Iterable[list[Any]], *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """The report as CSV, in chunks of lines, for a StreamingHttpResponse."""
    writer = csv.writer(_Line())
    yield writer.writerow(header).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([_csv_value(value) for value in row]))
        if len(buffer) >= lines_per_chunk:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def xlsx_write(header: list[str], rows: Iterable[list[Any]], file: IO[bytes], *, title: str) -> None:
    """The report as an XLSX workbook in openpyxl's write-only mode: rows go to disk as they come."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for heading in header:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_xlsx_value(value) for value in row])
    workbook.save(file)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; the header names the zone
    return value
