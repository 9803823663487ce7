"""The refund in admin: a changelist that stays fast on millions of rows, a read-only page with the whole
story, the audited support actions and the accountants' reports page.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaException
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from rangefilter.filters import DateRangeFilterBuilder

from events.messaging.dead_letters import dead_letters_of_key
from refundtool.admin.actions import ACTIONS, ActionForm
from refundtool.admin.filters import CountryFilter, FlaggedFilter, NeedsAttentionFilter, SlaBreachedFilter, StuckFilter
from refundtool.admin.pagination import NoCountPaginator
from refundtool.exceptions import RefundError
from refundtool.models import Refund
from refundtool.receipts import refund_receipts
from refundtool.reports import business_zone
from refundtool.roles import ACT_ON_REFUND, EXPORT_REFUND_REPORTS
from refundtool.selectors import (
    SlaStatus,
    refund_events,
    refund_flags,
    refund_history,
    refund_is_stuck,
    refund_sla,
    refunds_matching,
    refunds_without_receipt,
)
from refundtool.states import RefundStatus

S = RefundStatus
STATUS_COLOURS = {
    S.REQUESTED: "#6c757d",
    S.READY_TO_REFUND: "#0d6efd",
    S.REFUNDED: "#0aa2c0",
    S.COMPLETED: "#198754",
    S.PAYMENT_FAILED: "#dc3545",
    S.FISCAL_FAILED: "#dc3545",
    S.CANCELLED: "#495057",
    S.NEEDS_ATTENTION: "#fd7e14",
}
# Dead letters the refund page reads at most (of the order's partition of each DLQ topic).
DEAD_LETTERS_READ_LIMIT = 10_000
EVENTS_SHOWN = 200


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = [
        "order_number",
        "id",
        "country",
        "amount_with_currency",
        "status_badge",
        "age_in_state",
        "fiscal_status",
        "sla",
        "created",
    ]
    list_display_links = ["order_number", "id"]
    list_filter = [
        "status",
        CountryFilter,
        "payment_method",
        "fiscal_status",
        ("created_at", DateRangeFilterBuilder(title="created")),
        StuckFilter,
        FlaggedFilter,
        SlaBreachedFilter,
        NeedsAttentionFilter,
    ]
    search_fields = ["order_number"]  # shows the search box; get_search_results does the matching
    search_help_text = (
        "Exact match: order number, refund id, refund_request_id, customer e-mail (any case), "
        "customer phone (digits, any separators), payment transaction id, or a marking code "
        "(its base64, the scan, or (01)GTIN(21)serial)."
    )
    ordering = ["-created_at"]
    sortable_by = ["created"]
    list_per_page = 50
    list_max_show_all = 0  # "show all" would load every refund
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = None
    fieldsets = [
        (
            "Refund",
            {
                "fields": [
                    "id",
                    "refund_request_id",
                    "order_number",
                    "country",
                    "status_badge",
                    "status_since",
                    "reason",
                ]
            },
        ),
        (
            "Money",
            {
                "fields": [
                    "amount_with_currency",
                    "delivery_amount",
                    "payment_method",
                    "payment_id",
                    "payment_transaction_id",
                    "refunded_at",
                    "payment_result_at",
                ]
            },
        ),
        ("Customer", {"fields": ["customer_email", "customer_phone"]}),
        (
            "Fiscal receipt",
            {
                "fields": [
                    "fiscal_status",
                    "sla",
                    "fn_number",
                    "fiscal_document_number",
                    "fiscal_document_attribute",
                    "receipt_datetime",
                    "ofd_receipt_url",
                ]
            },
        ),
        ("Times", {"fields": ["requested_at", "created_at", "updated_at", "sequence"]}),
    ]
    readonly_fields = ["status_badge", "status_since", "amount_with_currency", "sla"]

    # --- permissions: the page is read-only; changes happen only through the audited actions ---------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Refund | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Refund | None = None) -> bool:
        return False

    # --- changelist ------------------------------------------------------------------------------------

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet[Refund], per_page: int, *args: Any, **kwargs: Any
    ) -> NoCountPaginator:
        raw = request.GET.get("p", "1")
        return NoCountPaginator(queryset, per_page, page_number=int(raw) if raw.isdigit() else 1)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Refund], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(refunds_matching(term)), False

    @admin.display(description="amount")
    def amount_with_currency(self, refund: Refund) -> str:
        return f"{refund.amount:.2f} {refund.currency}"

    @admin.display(description="status")
    def status_badge(self, refund: Refund) -> str:
        return format_html(
            '<span class="refund-status" data-status="{}" style="background:{};color:#fff;padding:2px 8px;'
            'border-radius:10px;white-space:nowrap">{}</span>',
            refund.status,
            STATUS_COLOURS.get(refund.status, "#6c757d"),
            refund.get_status_display(),
        )

    @admin.display(description="in state for")
    def age_in_state(self, refund: Refund) -> str:
        age = timesince(refund.status_changed_at, timezone.now(), depth=1)
        if refund_is_stuck(refund, now=timezone.now()):
            return format_html('<strong style="color:#dc3545" title="stuck">{} (stuck)</strong>', age)
        return age

    @admin.display(description="in state since")
    def status_since(self, refund: Refund) -> str:
        return f"{timezone.localtime(refund.status_changed_at):%Y-%m-%d %H:%M:%S %Z} ({self.age_in_state(refund)})"

    @admin.display(description="SLA")
    def sla(self, refund: Refund) -> str:
        now = timezone.now()
        sla = refund_sla(refund, now=now)
        if sla.status == SlaStatus.NOT_APPLICABLE:
            return "—"
        if sla.status == SlaStatus.RUNNING:
            return f"due in {timesince(now, sla.deadline, depth=1)}"
        if sla.status == SlaStatus.BREACHED:
            return mark_safe('<strong style="color:#dc3545">breached</strong>')
        return "met"

    @admin.display(description="created", ordering="created_at")
    def created(self, refund: Refund) -> str:
        return f"{timezone.localtime(refund.created_at):%Y-%m-%d %H:%M}"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {"can_export_reports": request.user.has_perm(EXPORT_REFUND_REPORTS), **(extra_context or {})}
        return super().changelist_view(request, context)

    # --- the refund page -------------------------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        refund = self.get_object(request, object_id)
        if refund is None or not self.has_view_permission(request, refund):
            return super().change_view(request, object_id, form_url, extra_context)
        inbox, outbox = refund_events(order_number=refund.order_number)
        context = {
            "refund": refund,
            "items": refund.items.all(),
            "tenders": refund.tenders.all(),
            "marks": refund.marks.all(),
            "history": refund_history(refund_id=refund.id),
            "flags": refund_flags(refund_id=refund.id),
            "inbox": [_event_row(m.message, m, topic=m.topic, at=m.received_at) for m in inbox[:EVENTS_SHOWN]],
            "outbox": [_event_row(m.message, m, topic=m.topic, at=m.created_at) for m in outbox[:EVENTS_SHOWN]],
            "receipts": refund_receipts(refund),
            **_dead_letters_for(refund.order_number),
            "support_actions": [a for a in ACTIONS.values() if a.is_available(refund)]
            if request.user.has_perm(ACT_ON_REFUND)
            else [],
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    # --- support actions and reports -------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("reports/", wrap(self.reports_view), name="refundtool_refund_reports"),
            path("<uuid:object_id>/act/<slug:action>/", wrap(self.action_view), name="refundtool_refund_act"),
            *super().get_urls(),
        ]

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        if not request.user.has_perm(ACT_ON_REFUND):
            raise PermissionDenied
        refund = self.get_object(request, str(object_id))
        support_action = ACTIONS.get(action)
        if refund is None or support_action is None:
            raise Http404("no such refund or action")
        page = reverse("admin:refundtool_refund_change", args=[refund.pk])
        targets = support_action.targets(refund)
        if request.method != "POST" and not targets:
            messages.error(request, f"{support_action.title} is not possible: the refund is {refund.status}.")
            return HttpResponseRedirect(page)
        initial = support_action.initial(refund) if support_action.initial else {}
        form = ActionForm(request.POST or None, action=support_action, targets=targets, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                support_action.run(refund, username=request.user.get_username(), values=form.cleaned_data)
            except RefundError as exc:
                messages.error(request, f"{support_action.title} was refused: {exc}")
            else:
                refund.refresh_from_db()
                messages.success(request, f"{support_action.title}: done; the refund is now {refund.status}.")
            return HttpResponseRedirect(page)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": refund,
            "title": f"{support_action.title}: refund of order {refund.order_number}",
            "action": support_action,
            "form": form,
            "page": page,
        }
        return TemplateResponse(request, "admin/refundtool/refund/action_confirmation.html", context)

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(EXPORT_REFUND_REPORTS):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Refund reports",
            "countries": settings.REFUNDTOOL_COUNTRIES,
            "statuses": RefundStatus.choices,
            "business_time_zone": settings.REFUNDTOOL_BUSINESS_TIME_ZONE,
            "today": timezone.localdate(timezone=business_zone()),
            "without_receipt": refunds_without_receipt().count(),
        }
        return TemplateResponse(request, "admin/refundtool/refund/reports.html", context)


def _event_row(message: Any, row: Any, *, topic: str, at: Any) -> dict[str, Any]:
    return {"row": row, "topic": topic, "at": at, "payload": json.dumps(message, indent=2, ensure_ascii=False)}


def _dead_letters_for(order_number: str) -> dict[str, Any]:
    """The order's dead letters for the page, with an error instead when the broker cannot be read,
    or a note when the search stopped before it read them all."""
    try:
        search = dead_letters_of_key(
            key=order_number,
            read_limit=DEAD_LETTERS_READ_LIMIT,
            timeout=settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS,
        )
    except KafkaException as exc:
        error = f"The Kafka broker could not be read ({exc.args[0] if exc.args else exc}); try again later."
        return {"dead_letters": [], "dead_letters_error": error}
    note = (
        ""
        if search.complete
        else f"Only the first {search.read} dead letters of this order's partitions were searched; "
        f"`manage.py dlq list --key {order_number}` searches them all."
    )
    return {"dead_letters": search.letters, "dead_letters_note": note}
