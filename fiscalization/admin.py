"""Receipts and correction receipts in admin, read-only: attempts and errors for support, the SLA breach list."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from fiscalization.models import BreachedReceipt, CorrectionReceipt, Receipt
from fiscalization.selectors import breached_receipts


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "refund_link",
        "status",
        "total",
        "attempts",
        "refunded_at",
        "deadline",
        "done_at",
        "breached_at",
        "last_error",
    ]
    list_filter = ["status", ("breached_at", admin.EmptyFieldListFilter)]
    search_fields = ["=external_id", "=provider_uuid", "=refund__id", "=refund__order_number"]
    list_select_related = ["refund"]
    date_hierarchy = "created_at"

    @admin.display(description="refund", ordering="refund__order_number")
    def refund_link(self, receipt: Receipt) -> str:
        try:
            url = reverse("admin:refundtool_refund_change", args=[receipt.refund_id])
        except NoReverseMatch:  # the refund admin is not registered in this deployment
            return receipt.refund.order_number
        return format_html('<a href="{}">{}</a>', url, receipt.refund.order_number)


@admin.register(BreachedReceipt)
class BreachedReceiptAdmin(ReceiptAdmin):
    list_filter = ["status"]
    date_hierarchy = None
    ordering = ["-breached_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Receipt]:
        return breached_receipts()


@admin.register(CorrectionReceipt)
class CorrectionReceiptAdmin(ReadOnlyAdmin):
    """Asked for on the refund page (its support action); here the list of all of them, for support and on-call."""

    list_display = [
        "external_id",
        "refund_link",
        "status",
        "correction_type",
        "base_date",
        "base_number",
        "total",
        "requested_by",
        "requested_at",
        "deadline",
        "done_at",
        "breached_at",
        "last_error",
    ]
    list_filter = ["status", "correction_type", ("breached_at", admin.EmptyFieldListFilter)]
    search_fields = ["=external_id", "=provider_uuid", "=refund__id", "=refund__order_number", "=requested_by"]
    list_select_related = ["refund"]
    date_hierarchy = "requested_at"
    refund_link = ReceiptAdmin.refund_link
