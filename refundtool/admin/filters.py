"""Changelist filters that read indexes and never ask the database for the values they offer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from refundtool.models import Refund
from refundtool.selectors import refunds_flagged_filter, refunds_sla_breached_filter, refunds_stuck_filter
from refundtool.states import RefundStatus

S = RefundStatus
SUPPORT_QUEUE = (S.NEEDS_ATTENTION, S.PAYMENT_FAILED, S.FISCAL_FAILED)


class CountryFilter(admin.SimpleListFilter):
    """The served countries from settings (the default filter would SELECT DISTINCT over every refund)."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, code) for code in settings.REFUNDTOOL_COUNTRIES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        return queryset.filter(country=self.value()) if self.value() else queryset


class YesFilter(admin.SimpleListFilter):
    label = ""

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", self.label)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        return queryset.filter(self.condition()) if self.value() == "yes" else queryset

    def condition(self) -> Any:
        raise NotImplementedError


class StuckFilter(YesFilter):
    title = "stuck"
    parameter_name = "stuck"
    label = "Longer in its state than allowed"

    def condition(self) -> Any:
        return refunds_stuck_filter(now=timezone.now())


class FlaggedFilter(YesFilter):
    title = "monitoring flag"
    parameter_name = "flagged"
    label = "Open (stuck, or Payment not answering)"

    def condition(self) -> Any:
        return refunds_flagged_filter()


class SlaBreachedFilter(YesFilter):
    title = "fiscal SLA"
    parameter_name = "sla_breached"
    label = "Breached (receipt overdue)"

    def condition(self) -> Any:
        return refunds_sla_breached_filter(now=timezone.now())


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("needs_attention", "Needs attention"),
            ("support_queue", "Waiting for support (also payment or receipt failed)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        if self.value() == "needs_attention":
            return queryset.filter(status=S.NEEDS_ATTENTION)
        if self.value() == "support_queue":
            return queryset.filter(status__in=SUPPORT_QUEUE)
        return queryset
