"""Read-only admin of what on-call monitoring keeps: commands waiting for responses, and flags.

Both are written only by the outbox, the consumer and the periodic checks; the admin reads them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from events.monitoring.expectations import command_types
from events.monitoring.models import Flag, ResponseExpectation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ExpectationStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("overdue", "Overdue (no response by the deadline)"),
            ("waiting", "Waiting, still in time"),
            ("answered", "Answered"),
            ("late", "Answered after the deadline"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ResponseExpectation]) -> QuerySet[ResponseExpectation]:
        now = timezone.now()
        conditions = {
            "overdue": Q(answered_at__isnull=True, deadline__lt=now),
            "waiting": Q(answered_at__isnull=True, deadline__gte=now),
            "answered": Q(answered_at__isnull=False),
            "late": Q(answered_at__gt=F("deadline")),
        }
        return queryset.filter(conditions[self.value()]) if self.value() in conditions else queryset


class CommandTypeFilter(admin.SimpleListFilter):
    title = "command type"
    parameter_name = "command_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in command_types()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ResponseExpectation]) -> QuerySet[ResponseExpectation]:
        return queryset.filter(command_type=self.value()) if self.value() else queryset


@admin.register(ResponseExpectation)
class ResponseExpectationAdmin(ReadOnlyAdmin):
    list_display = [
        "command_type",
        "correlation",
        "key",
        "country",
        "sent_at",
        "deadline",
        "state",
        "answered_at",
    ]
    list_filter = [ExpectationStateFilter, CommandTypeFilter, "country"]
    search_fields = ["=correlation_value", "=key", "=command_eid", "=response_eid"]
    ordering = ["deadline"]
    date_hierarchy = "sent_at"
    show_full_result_count = False

    @admin.display(description="answers")
    def correlation(self, expectation: ResponseExpectation) -> str:
        if not expectation.correlation_field:
            return str(expectation.command_eid)
        return f"{expectation.correlation_field} {expectation.correlation_value}"

    @admin.display(description="state")
    def state(self, expectation: ResponseExpectation) -> str:
        if expectation.answered_at is not None:
            return "answered late" if expectation.answered_late else "answered"
        overdue_by = (timezone.now() - expectation.deadline).total_seconds()
        return f"OVERDUE by {overdue_by:.0f} s" if overdue_by > 0 else "waiting"


class FlagOpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Cleared")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Flag]) -> QuerySet[Flag]:
        if self.value() in ("yes", "no"):
            return queryset.filter(cleared_at__isnull=self.value() == "yes")
        return queryset


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ["kind", "subject_type", "subject_id", "detail", "raised_at", "cleared_at", "clear_reason"]
    list_filter = [FlagOpenFilter, "subject_type", "kind"]
    search_fields = ["=subject_id"]
    ordering = ["-raised_at"]
    date_hierarchy = "raised_at"
    show_full_result_count = False
