"""JSON endpoint of the receipts that missed their SLA deadline, for on-call dashboards."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.contracts.query import integer, query_parse
from fiscalization.models import Receipt
from fiscalization.selectors import breached_receipts

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class BreachedReceiptSerializer(serializers.ModelSerializer):
    refund_id = serializers.UUIDField()
    order_number = serializers.CharField(source="refund.order_number")
    refund_status = serializers.CharField(source="refund.status")

    class Meta:
        model = Receipt
        fields = [
            "external_id",
            "refund_id",
            "order_number",
            "refund_status",
            "part",
            "status",
            "attempts",
            "last_error",
            "refunded_at",
            "deadline",
            "breached_at",
            "done_at",
        ]


class BreachedReceiptsPage(serializers.Serializer):
    count = serializers.IntegerField()
    results = BreachedReceiptSerializer(many=True)


class BreachedReceiptsView(APIView):
    """GET: receipts not done by their deadline, newest breach first: {"count", "results"}."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}")],
        responses={200: BreachedReceiptsPage, 400: OpenApiResponse(description="the one error shape")},
    )
    def get(self, request: Request) -> Response:
        # A QueryError goes to the API's exception handler: the one error shape, details at /query/limit.
        query = query_parse(request.query_params, {"limit": integer(1, MAX_LIMIT, default=DEFAULT_LIMIT)})
        receipts = breached_receipts()
        return Response(
            {
                "count": receipts.count(),
                "results": BreachedReceiptSerializer(receipts[: query["limit"]], many=True).data,
            }
        )
