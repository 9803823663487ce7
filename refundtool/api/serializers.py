"""What the API shows of a refund: money as strings with two decimals, times in RFC 3339 (UTC)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from refundtool.models import Refund, RefundItem, RefundTransition
from refundtool.receipts import refund_receipts
from refundtool.selectors import refund_sla


class RefundItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = RefundItem
        fields = ["item_id", "sku", "name", "quantity", "unit_price", "vat_rate", "reason"]


class RefundTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RefundTransition
        fields = [
            "sequence",
            "transition",
            "source",
            "target",
            "actor_kind",
            "actor_id",
            "causing_eid",
            "reason",
            "event_types",
            "at",
        ]


class ReceiptSerializer(serializers.Serializer):
    label = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    fn_number = serializers.CharField()
    fiscal_document_number = serializers.CharField()
    fiscal_document_attribute = serializers.CharField()
    receipt_datetime = serializers.DateTimeField(allow_null=True)
    ofd_receipt_url = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)


class FiscalSerializer(serializers.Serializer):
    status = serializers.CharField(source="fiscal_status")
    fn_number = serializers.CharField()
    fiscal_document_number = serializers.CharField()
    fiscal_document_attribute = serializers.CharField()
    receipt_datetime = serializers.DateTimeField(allow_null=True)
    ofd_receipt_url = serializers.CharField()
    sla = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=["not_applicable", "running", "met", "breached"]))
    def get_sla(self, refund: Refund) -> str:
        return refund_sla(refund, now=timezone.now()).status.value


class RefundSerializer(serializers.ModelSerializer):
    refund_id = serializers.UUIDField(source="id")
    fiscal = FiscalSerializer(source="*")

    class Meta:
        model = Refund
        fields = [
            "refund_id",
            "refund_request_id",
            "order_number",
            "country",
            "currency",
            "amount",
            "delivery_amount",
            "status",
            "status_changed_at",
            "reason",
            "sequence",
            "payment_id",
            "payment_method",
            "payment_transaction_id",
            "refunded_at",
            "fiscal",
            "requested_at",
            "created_at",
            "updated_at",
        ]


class RefundDetailSerializer(RefundSerializer):
    items = RefundItemSerializer(many=True)
    history = RefundTransitionSerializer(many=True, source="transitions")
    receipts = serializers.SerializerMethodField()

    class Meta(RefundSerializer.Meta):
        fields = [*RefundSerializer.Meta.fields, "items", "history", "receipts"]

    @extend_schema_field(ReceiptSerializer(many=True))
    def get_receipts(self, refund: Refund) -> list[dict[str, Any]]:
        return ReceiptSerializer([receipt.as_dict() for receipt in refund_receipts(refund)], many=True).data
