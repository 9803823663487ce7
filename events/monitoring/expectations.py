"""Unanswered commands: every command-like event sent waits for the response its specification names.

- The outbox opens an expectation in the transaction that writes the command: the response type,
  the deadline (sent + the spec's timeout, or REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS for that command) and the
  value of the spec's correlation field (``refund_id`` for item_ready_to_refund).
- The consumer answers it in the transaction that records the response, so a response whose
  handler fails or is rejected leaves it open. A response answers the open expectations of its type
  whose command it names: by ``metadata.causation_id`` (the command's eid) or by the correlation
  field's value.
- ``expectations_check`` (Celery beat) marks the open ones past their deadline as overdue, once each,
  and sends ``expectation_overdue`` so that apps can react (refundtool flags the refund); it also
  compares, per command type, the commands sent with the responses received in the last window.

A deadline counts from when the outbox took the command, not from when the relay published it: a
customer waits either way, and a relay that cannot publish shows in the outbox backlog as well.
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from events.contracts.specification import EventSpec, all_event_specs, get_event_spec
from events.messaging.bulk import insert_rows
from events.messaging.handlers import IncomingEvent
from events.messaging.outbox import OutboxEntry
from events.monitoring.history import RESPONSE_WINDOW_SERIES, samples_record
from events.monitoring.models import ResponseExpectation

logger = logging.getLogger(__name__)

OVERDUE_BATCH_SIZE = 500

expectation_overdue = Signal()
"""Sent inside the check's transaction with ``expectations``: the ones just found overdue (each once).
A receiver that raises rolls the marking back, so the next check offers them again."""


# --- writes ---------------------------------------------------------------------------------------


def response_timeout_seconds(spec: EventSpec) -> int:
    """The spec's timeout, unless settings.REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS sets one for this command."""
    return int(settings.REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS.get(spec.name, spec.response_timeout_seconds or 0))


_OPEN_COLUMNS = (
    "command_eid",
    "command_type",
    "response_type",
    "correlation_field",
    "correlation_value",
    "key",
    "country",
    "sent_at",
    "deadline",
)


def expectations_open(*, messages: Sequence[OutboxEntry], copy: bool = False) -> int:
    """Opens one expectation per command among outbox rows being written (one for the versions of
    one command written together); runs in their transaction.

    `copy` writes them through COPY, as the consumer's batch path writes its outbox rows. Returns how
    many it opened.
    """
    # The same command in several versions, written together while its readers migrate (a refund
    # commanded in v1 and v2), is one command: the receiver reads one of its topics and answers once.
    # It opens one expectation, of the latest version's message; a response to any version answers
    # it by the correlation value. Commands without one are each their own.
    latest: dict[tuple[str, str, str], tuple[int, list[tuple[Any, ...]]]] = {}
    for message in messages:
        spec = get_event_spec(message.event_type, message.version)
        if spec.category != "command" or spec.response_event_type is None:
            continue
        field = spec.response_correlation_field or ""
        value = str(message.message["data"][field]) if field else ""
        row = (
            message.eid,
            spec.name,
            spec.response_event_type,
            field,
            value,
            message.key,
            str(message.message["metadata"].get("country") or ""),
            message.created_at,
            message.created_at + timedelta(seconds=response_timeout_seconds(spec)),
        )
        command = (spec.name, message.key, value) if value else (spec.name, message.key, str(message.eid))
        chosen = latest.get(command)
        if chosen is None or spec.version > chosen[0]:
            latest[command] = (spec.version, [row])
        elif spec.version == chosen[0]:
            chosen[1].append(row)
    rows = [row for _, rows_of_command in latest.values() for row in rows_of_command]
    if rows:
        insert_rows(ResponseExpectation, _OPEN_COLUMNS, rows, copy=copy)
    return len(rows)


def expectations_answer(*, events: Sequence[IncomingEvent], answered_at: datetime | None = None) -> int:
    """Answers the open expectations that consumed events respond to; returns how many. Runs in the
    transaction that records the events. Events of types that answer no command cost no query; one
    event costs one UPDATE, a run of them one SELECT and one UPDATE."""
    answered_at = answered_at or timezone.now()
    answered = 0
    by_type: dict[str, list[IncomingEvent]] = {}
    for event in events:
        by_type.setdefault(event.event_type, []).append(event)
    for event_type, of_type in by_type.items():
        commands = _commands_answered_by().get(event_type)
        if not commands:
            continue
        open_ones = ResponseExpectation.objects.filter(response_type=event_type, answered_at__isnull=True)
        if len(of_type) == 1:
            names = _names(of_type[0], commands)
            if names:
                answered += open_ones.filter(names).update(answered_at=answered_at, response_eid=of_type[0].eid)
            continue
        answered += _answer_run(open_ones, of_type, commands, answered_at)
    return answered


def _answer_run(
    open_ones: QuerySet[ResponseExpectation],
    events: list[IncomingEvent],
    commands: list[EventSpec],
    answered_at: datetime,
) -> int:
    names = reduce(operator.or_, (_names(event, commands) for event in events), Q())
    if not names:
        return 0
    candidates = list(open_ones.filter(names).only("id", "command_eid", "command_type", "correlation_value"))
    by_eid = {expectation.command_eid: expectation for expectation in candidates}
    # Several open commands may share a correlation value: the same command in two versions, sent
    # side by side while its readers migrate. One response answers them all, as the single-event
    # path's UPDATE does.
    by_correlation: dict[tuple[str, str], list[ResponseExpectation]] = {}
    for candidate in candidates:
        if candidate.correlation_value:
            by_correlation.setdefault((candidate.command_type, candidate.correlation_value), []).append(candidate)
    answered: dict[int, ResponseExpectation] = {}
    for event in events:  # in partition order: the first response answers
        causation_id = _uuid_or_none(event.metadata.get("causation_id"))
        names = {
            (command.name, str(event.data.get(command.response_correlation_field)))
            for command in commands
            if command.response_correlation_field
        }
        matches = [by_eid.get(causation_id)] + [match for name in names for match in by_correlation.get(name, ())]
        for expectation in matches:
            if expectation is not None and expectation.id not in answered:
                expectation.answered_at, expectation.response_eid = answered_at, event.eid
                answered[expectation.id] = expectation
    ResponseExpectation.objects.bulk_update(list(answered.values()), ["answered_at", "response_eid"])
    return len(answered)


def _names(event: IncomingEvent, commands: list[EventSpec]) -> Q:
    """The open expectations an event answers: by its causation_id, or by the correlation field."""
    names = Q()
    causation_id = _uuid_or_none(event.metadata.get("causation_id"))
    if causation_id is not None:
        names |= Q(command_eid=causation_id)
    for command in commands:
        field = command.response_correlation_field
        if field and event.data.get(field) is not None:
            names |= Q(command_type=command.name, correlation_value=str(event.data[field]))
    return names


@dataclass(frozen=True, slots=True)
class ResponseWindow:
    """Commands of one type sent, and responses to them received, in the window that ends at ``until``."""

    command_type: str
    window_seconds: int
    until: datetime
    sent: int
    answered: int
    open: int  # sent at any time, not answered yet
    overdue: int  # open and past the deadline
    oldest_open_sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExpectationCheck:
    newly_overdue: int
    windows: list[ResponseWindow]
    pruned: int


def expectations_check(*, now: datetime | None = None) -> ExpectationCheck:
    """The periodic check: marks newly overdue expectations (telling the apps), compares commands sent
    with responses received over the last REFUNDTOOL_RESPONSE_WINDOW_SECONDS (logged, and kept for the monitoring
    page), and prunes old answered ones."""
    now = now or timezone.now()
    newly_overdue = expectations_mark_overdue(now=now)
    windows = response_windows(now=now, window_seconds=settings.REFUNDTOOL_RESPONSE_WINDOW_SECONDS)
    for window in windows:
        level = logging.INFO
        if window.sent and not window.answered and _silent_for_a_window(window):
            level = logging.WARNING
        logger.log(
            level,
            "%s in the last %ss: %d sent, %d answered; %d open, %d overdue",
            window.command_type,
            window.window_seconds,
            window.sent,
            window.answered,
            window.open,
            window.overdue,
        )
    samples_record(
        series=RESPONSE_WINDOW_SERIES,
        values={
            f"{window.command_type} {figure}": getattr(window, figure)
            for window in windows
            for figure in ("sent", "answered", "overdue")
        },
        at=now,
    )
    pruned, _ = ResponseExpectation.objects.filter(
        answered_at__lt=now - timedelta(hours=settings.REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS)
    ).delete()
    return ExpectationCheck(newly_overdue=newly_overdue, windows=windows, pruned=pruned)


def expectations_mark_overdue(*, now: datetime) -> int:
    """Marks open expectations past their deadline as overdue, in batches; returns how many."""
    marked = 0
    while True:
        with transaction.atomic():
            due = list(
                ResponseExpectation.objects.select_for_update(skip_locked=True)
                .filter(answered_at__isnull=True, overdue_at__isnull=True, deadline__lt=now)
                .order_by("deadline")[:OVERDUE_BATCH_SIZE]
            )
            if not due:
                return marked
            ResponseExpectation.objects.filter(id__in=[e.id for e in due]).update(overdue_at=now)
            for expectation in due:
                expectation.overdue_at = now
            expectation_overdue.send(sender=ResponseExpectation, expectations=due)
        logger.warning(
            "%d command(s) got no response by their deadline, e.g. %s %s (awaiting %s since %s)",
            len(due),
            due[0].command_type,
            due[0].correlation_value or due[0].command_eid,
            due[0].response_type,
            due[0].sent_at.isoformat(),
        )
        marked += len(due)


# --- reads ----------------------------------------------------------------------------------------


def response_windows(*, now: datetime, window_seconds: int) -> list[ResponseWindow]:
    """One window per command type of the specification (zeros included), by command type."""
    since = now - timedelta(seconds=window_seconds)
    is_open = Q(answered_at__isnull=True)
    figures = {
        row["command_type"]: row
        for row in ResponseExpectation.objects.filter(Q(sent_at__gte=since) | Q(answered_at__gte=since) | is_open)
        .values("command_type")
        .annotate(
            sent=Count("id", filter=Q(sent_at__gte=since, sent_at__lt=now)),
            answered=Count("id", filter=Q(answered_at__gte=since, answered_at__lt=now)),
            open=Count("id", filter=is_open),
            overdue=Count("id", filter=is_open & Q(deadline__lt=now)),
            oldest_open=Min("sent_at", filter=is_open),
        )
    }
    windows = []
    for command_type in command_types():
        row = figures.get(command_type, {})
        windows.append(
            ResponseWindow(
                command_type=command_type,
                window_seconds=window_seconds,
                until=now,
                sent=row.get("sent", 0),
                answered=row.get("answered", 0),
                open=row.get("open", 0),
                overdue=row.get("overdue", 0),
                oldest_open_sent_at=row.get("oldest_open"),
            )
        )
    return windows


def command_types() -> list[str]:
    return sorted({spec.name for spec in all_event_specs() if spec.category == "command"})


@functools.cache
def _commands_answered_by() -> dict[str, list[EventSpec]]:
    answered_by: dict[str, list[EventSpec]] = {}
    for spec in all_event_specs():
        if spec.category == "command" and spec.response_event_type is not None:
            answered_by.setdefault(spec.response_event_type, []).append(spec)
    return answered_by


def _silent_for_a_window(window: ResponseWindow) -> bool:
    """An open command older than the window got no response in it: the responder may be down."""
    oldest = window.oldest_open_sent_at
    return oldest is not None and oldest <= window.until - timedelta(seconds=window.window_seconds)


def _uuid_or_none(value: object) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None
