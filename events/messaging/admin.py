"""Admin of dead letters (list, inspect, replay and discard) and of the outbox (parked rows: retry or
skip); each decision is recorded with the operator's name and reason."""

import json
from typing import Any

from confluent_kafka import KafkaException
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from events.messaging.dead_letters import (
    DeadLetter,
    DeadLetterAlreadyDecidedError,
    DeadLetterNotFoundError,
    DeadLetterPublishError,
    dead_letter_discard,
    dead_letter_get,
    dead_letter_list,
    dead_letter_replay,
    dlq_topics,
)
from events.messaging.models import DeadLetterDecision, OutboxDecision, OutboxMessage
from events.messaging.parking import OutboxRowNotParkedError, outbox_retry, outbox_skip

DECISION_OPEN = "open"  # the decision filter's value for letters nobody decided yet
DEAD_LETTERS_LIMIT = 200


class DeadLetterForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Required: recorded with your username.",
    )


@admin.register(DeadLetterDecision)
class DeadLetterAdmin(admin.ModelAdmin):
    """Dead letters live in their Kafka topics; this lists them with any decision, shows one, and replays or
    discards it through the events.messaging.dead_letters services. When the broker cannot be read, the page says so.
    """

    decide_permission = "events.add_deadletterdecision"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a decision is made on a letter (replay or discard), never added by hand

    def has_change_permission(self, request: HttpRequest, obj: DeadLetterDecision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DeadLetterDecision | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("letter/<str:topic>/<int:partition>/<int:offset>/", wrap(self.letter_view), name="events_deadletter"),
            path(
                "letter/<str:topic>/<int:partition>/<int:offset>/<str:action>/",
                wrap(self.decide_view),
                name="events_deadletter_decide",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        topic = request.GET.get("topic", "")
        decision = request.GET.get("decision", "")
        limit = int(request.GET["limit"]) if request.GET.get("limit", "").isdigit() else DEAD_LETTERS_LIMIT
        timeout = settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS
        topics: list[str] = []
        letters: list[DeadLetter] = []
        error = ""
        try:
            topics = dlq_topics(timeout=timeout)
            if topic and topic not in topics:
                error = f"{topic} is not a dead-letter topic."
            else:
                letters = dead_letter_list(topics=[topic] if topic else topics, limit=limit, timeout=timeout)
        except KafkaException as exc:
            error = _broker_error(exc)
        if decision:
            letters = [
                letter
                for letter in letters
                if (letter.decision.action if letter.decision else DECISION_OPEN) == decision
            ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Dead letters",
            "letters": letters,
            "topics": topics,
            "topic": topic,
            "decisions": [DECISION_OPEN, *DeadLetterDecision.Action.values],
            "decision": decision,
            "limit": limit,
            "error": error,
        }
        return TemplateResponse(request, "admin/events/deadletter/list.html", context)

    def letter_view(self, request: HttpRequest, topic: str, partition: int, offset: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        letter, error = _letter_or_error(topic, partition, offset)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Dead letter {topic} [{partition}] @{offset}",
            "letter": letter,
            "value": _pretty(letter.value_text) if letter else "",
            "error": error,
            "can_decide": request.user.has_perm(self.decide_permission),
        }
        return TemplateResponse(request, "admin/events/deadletter/letter.html", context)

    def decide_view(self, request: HttpRequest, topic: str, partition: int, offset: int, action: str) -> HttpResponse:
        if not request.user.has_perm(self.decide_permission):
            raise PermissionDenied
        if action not in DeadLetterDecision.Action.values:
            raise Http404("no such action")
        letter_page = reverse("admin:events_deadletter", args=[topic, partition, offset])
        letter, error = _letter_or_error(topic, partition, offset)
        if letter is None:
            messages.error(request, error)
            return HttpResponseRedirect(reverse("admin:events_deadletterdecision_changelist"))
        form = DeadLetterForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            service = dead_letter_replay if action == DeadLetterDecision.Action.REPLAY else dead_letter_discard
            try:
                service(
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    actor=request.user.get_username(),
                    reason=form.cleaned_data["reason"],
                )
            except (DeadLetterAlreadyDecidedError, DeadLetterNotFoundError, DeadLetterPublishError, ValueError) as exc:
                messages.error(request, f"The dead letter was not {action}ed: {exc}")
            except KafkaException as exc:
                messages.error(request, f"The dead letter was not {action}ed: {_broker_error(exc)}")
            else:
                messages.success(request, f"{topic} [{partition}] @{offset}: {action} recorded.")
            return HttpResponseRedirect(letter_page)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{action.capitalize()} dead letter {topic} [{partition}] @{offset}?",
            "letter": letter,
            "action": action,
            "form": form,
            "letter_page": letter_page,
        }
        return TemplateResponse(request, "admin/events/deadletter/confirm.html", context)


def _letter_or_error(topic: str, partition: int, offset: int) -> tuple[DeadLetter | None, str]:
    try:
        return dead_letter_get(
            topic=topic, partition=partition, offset=offset, timeout=settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS
        ), ""
    except DeadLetterNotFoundError as exc:
        return None, str(exc)
    except KafkaException as exc:
        return None, _broker_error(exc)


def _broker_error(exc: KafkaException) -> str:
    return f"The Kafka broker could not be read ({exc.args[0] if exc.args else exc}); try again later."


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


class ParkedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "parked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "parked"), ("waiting", "waiting"), ("published", "published")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> QuerySet[OutboxMessage]:
        match self.value():
            case "yes":
                return queryset.filter(failed_at__isnull=False, published_at__isnull=True)
            case "waiting":
                return queryset.filter(failed_at__isnull=True, published_at__isnull=True)
            case "published":
                return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox, read-only. A parked row (refused by the broker for good) is retried or skipped by an
    action that asks for a reason and records an OutboxDecision (events.messaging.parking)."""

    list_display = ["id", "event_type", "eid", "key", "created_at", "published_at", "failed_at", "attempts", "refusal"]
    list_filter = [ParkedFilter, "event_type"]
    search_fields = ["=key", "=eid"]
    actions = ["retry_parked", "skip_parked"]
    show_full_result_count = False  # the outbox is large; counting it on every page is not

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.add_outboxdecision")

    @admin.display(description="last error")
    def refusal(self, row: OutboxMessage) -> str:
        return row.last_error[:200]

    @admin.action(description="Retry the selected parked rows", permissions=["decide"])
    def retry_parked(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> HttpResponse | None:
        return self._decide(request, queryset, OutboxDecision.Action.RETRY)

    @admin.action(description="Skip the selected parked rows (never send them)", permissions=["decide"])
    def skip_parked(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> HttpResponse | None:
        return self._decide(request, queryset, OutboxDecision.Action.SKIP)

    def _decide(self, request: HttpRequest, queryset: QuerySet[OutboxMessage], action: str) -> HttpResponse | None:
        form = DeadLetterForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            service = outbox_retry if action == OutboxDecision.Action.RETRY else outbox_skip
            ids = list(queryset.values_list("id", flat=True))
            try:
                done = service(ids=ids, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
            except OutboxRowNotParkedError as exc:
                messages.error(request, f"Nothing was done: {exc}")
            else:
                messages.success(request, f"{action}: {done} parked row(s), recorded with your reason.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{action.capitalize()} {queryset.count()} parked outbox row(s)?",
            "rows": queryset,
            "action": action,
            "action_name": f"{action}_parked",
            "form": form,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "parked_list": f"{reverse('admin:events_outboxmessage_changelist')}?parked=yes",
        }
        return TemplateResponse(request, "admin/events/outboxmessage/confirm.html", context)


@admin.register(OutboxDecision)
class OutboxDecisionAdmin(admin.ModelAdmin):
    """What operators did with parked rows: read-only, like the decisions themselves."""

    list_display = ["decided_at", "action", "event_type", "eid", "key", "actor", "reason"]
    list_filter = ["action", "event_type"]
    search_fields = ["=key", "=eid", "actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxDecision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxDecision | None = None) -> bool:
        return False
