"""JSON endpoint of the receipts that missed their SLA deadline, for on-call dashboards."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


class BreachedReceiptsQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class BreachedReceiptsPage(serializers.Serializer):
    count = serializers.IntegerField()
    results = BreachedReceiptSerializer(many=True)


class FieldErrorSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class FieldErrorsSerializer(serializers.Serializer):
    errors = FieldErrorSerializer(many=True)


class BreachedReceiptsView(APIView):
    """GET: receipts not done by their deadline, newest breach first: {"count", "results"}."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[BreachedReceiptsQuery], responses={200: BreachedReceiptsPage, 400: FieldErrorsSerializer}
    )
    def get(self, request: Request) -> Response:
        query = BreachedReceiptsQuery(data=request.query_params)
        if not query.is_valid():
            errors = [
                {"path": f"/query/{field}", "message": str(message)}
                for field, messages in query.errors.items()
                for message in messages
            ]
            return Response({"errors": errors}, status=400)
        receipts = breached_receipts()
        return Response(
            {
                "count": receipts.count(),
                "results": BreachedReceiptSerializer(receipts[: query.validated_data["limit"]], many=True).data,
            }
        )
