"""The read API over refunds and the report downloads: parse the query, call a selector, format."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from events.contracts.query import aware_datetime, choice, query_parse, text
from refundtool.api.serializers import RefundDetailSerializer, RefundSerializer
from refundtool.models import Refund
from refundtool.reports import (
    ReportLayout,
    ReportQuery,
    csv_lines,
    reconciliation_layout,
    reconciliation_rows,
    refunds_report_layout,
    refunds_report_rows,
    report_query_parse,
    xlsx_write,
)
from refundtool.roles import EXPORT_REFUND_REPORTS
from refundtool.states import RefundStatus

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERROR_BODY = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}
ERRORS = {
    400: OpenApiResponse(ERROR_BODY, description="bad query parameters"),
    401: OpenApiResponse(ERROR_BODY, description="no or bad token"),
    403: OpenApiResponse(ERROR_BODY, description="the user lacks the permission"),
}


def requires(permission: str) -> type[BasePermission]:
    class HasPermission(BasePermission):
        def has_permission(self, request: Request, view: APIView) -> bool:
            return bool(request.user and request.user.has_perm(permission))

    HasPermission.__name__ = f"Has_{permission.replace('.', '_')}"
    return HasPermission


class RefundCursorPagination(CursorPagination):
    """Oldest change first, so a client that follows `next` (or asks updated_after) sees every change."""

    ordering = ("updated_at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


LIST_PARAMETERS = [
    OpenApiParameter("order_number", str, description="exact order number"),
    OpenApiParameter("status", str, enum=RefundStatus.values),
    OpenApiParameter("country", str, description="ISO 3166-1 alpha-2, e.g. RU"),
    OpenApiParameter("updated_after", OpenApiTypes.DATETIME, description="RFC 3339; changes strictly after it"),
]


class RefundListView(generics.ListAPIView):
    serializer_class = RefundSerializer
    pagination_class = RefundCursorPagination
    permission_classes = [requires("refundtool.view_refund")]

    @extend_schema(parameters=LIST_PARAMETERS, responses={200: RefundSerializer(many=True), **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Refund]:
        return refund_list_filter(Refund.objects.all(), self.request.query_params)


class RefundDetailView(generics.RetrieveAPIView):
    serializer_class = RefundDetailSerializer
    permission_classes = [requires("refundtool.view_refund")]
    queryset = Refund.objects.prefetch_related("items", "transitions")
    lookup_url_kwarg = "refund_id"

    @extend_schema(responses={200: RefundDetailSerializer, 404: OpenApiResponse(ERROR_BODY), **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


def refund_list_filter(queryset: QuerySet[Refund], params: Mapping[str, Any]) -> QuerySet[Refund]:
    query = query_parse(
        params,
        {
            "order_number": text(),
            "status": choice(RefundStatus.values),
            "country": choice(settings.REFUNDTOOL_COUNTRIES, normalize=str.upper),
            "updated_after": aware_datetime(),
        },
        others=(RefundCursorPagination.cursor_query_param, RefundCursorPagination.page_size_query_param),
    )
    if query["order_number"]:
        queryset = queryset.filter(order_number=query["order_number"])
    if query["status"]:
        queryset = queryset.filter(status=query["status"])
    if query["country"]:
        queryset = queryset.filter(country=query["country"])
    if query["updated_after"]:
        queryset = queryset.filter(updated_at__gt=query["updated_after"])
    return queryset


# --- reports --------------------------------------------------------------------------------------


class JsonErrorsOnly(BaseContentNegotiation):
    """Report files ignore Accept: the body is the file, or a JSON error."""

    def select_renderer(self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None


REPORT_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="first day, in the business time zone"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last day (included)"),
    OpenApiParameter("country", str),
    OpenApiParameter("status", str, enum=RefundStatus.values),
]


class ReportView(APIView):
    permission_classes = [requires(EXPORT_REFUND_REPORTS)]
    throttle_scope = "reports"  # refundtool.api.throttling: a report reads a whole period
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrorsOnly
    report = ""
    period_required = True
    file_format = "csv"
    layout: Callable[[], ReportLayout]
    rows: Callable[[ReportQuery], Iterator[list[Any]]]

    def get(self, request: Request) -> StreamingHttpResponse | FileResponse:
        query = report_query_parse(request.query_params, period_required=self.period_required)
        file_name = query.file_name(self.report, self.file_format)
        rows = type(self).rows(query)
        if self.file_format == "csv":
            response = StreamingHttpResponse(
                csv_lines(type(self).layout(), rows), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{file_name}"'
            return response
        # openpyxl's write-only mode writes rows to disk as they come; the finished zip is streamed.
        file = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
        xlsx_write(type(self).layout(), rows, file, title=self.report)
        file.seek(0)
        return FileResponse(file, as_attachment=True, filename=file_name, content_type=XLSX_CONTENT_TYPE)


def _report_view(report: str, file_format: str, layout: Callable[[], ReportLayout], rows: Any, *, period: bool):
    description = {
        "refunds": "One row per refund whose money left in the period, VAT by rate, receipt, SLA; totals "
        "per currency. date_from and date_to are required.",
        "reconciliation": "Refunds whose money left without a done receipt, oldest first, with their age.",
    }[report]
    media_type = "text/csv" if file_format == "csv" else XLSX_CONTENT_TYPE

    @extend_schema(
        parameters=REPORT_PARAMETERS,
        responses={(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description), **ERRORS},
        operation_id=f"report_{report}_{file_format}",
    )
    def get(self: ReportView, request: Request) -> StreamingHttpResponse | FileResponse:
        return ReportView.get(self, request)

    view = type(
        f"{report.title()}{file_format.upper()}ReportView",
        (ReportView,),
        {
            "report": report,
            "file_format": file_format,
            "period_required": period,
            "layout": staticmethod(layout),
            "rows": staticmethod(rows),
            "get": get,
        },
    )
    return view.as_view()


refunds_csv = _report_view("refunds", "csv", refunds_report_layout, refunds_report_rows, period=True)
refunds_xlsx = _report_view("refunds", "xlsx", refunds_report_layout, refunds_report_rows, period=True)
reconciliation_csv = _report_view("reconciliation", "csv", reconciliation_layout, reconciliation_rows, period=False)
reconciliation_xlsx = _report_view("reconciliation", "xlsx", reconciliation_layout, reconciliation_rows, period=False)
