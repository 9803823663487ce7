"""Extension points of the messaging runtime: work that other rooms do inside its transactions.

The runtime calls these; it knows nothing of who listens. Today monitoring registers, in
MonitoringConfig.ready, the opening of response expectations (outbox) and their answering (consumer).

- outbox_written(messages, copy): in the transaction that writes outbox rows, after they are
  written; `copy` says whether they went through COPY (the consumer's batch path), so a hook's own
  rows can go the same way.
- events_applied(events): in the transaction that records consumed events in the inbox, after their
  handlers applied them; events a handler refused or asked to retry are not passed.
- outbox_parked_changed(): in the transaction that parks outbox rows, or retries or skips parked
  ones (events.messaging.parking); a listener reads the parked rows it cares about.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# Called with keywords: hook(messages=..., copy=...) and hook(events=...).
OutboxWrittenHook = Callable[..., object]
EventsAppliedHook = Callable[..., object]
OutboxParkedChangedHook = Callable[[], object]

_outbox_written: list[OutboxWrittenHook] = []
_events_applied: list[EventsAppliedHook] = []
_outbox_parked_changed: list[OutboxParkedChangedHook] = []


def register_outbox_written(hook: OutboxWrittenHook) -> None:
    if hook not in _outbox_written:
        _outbox_written.append(hook)


def register_events_applied(hook: EventsAppliedHook) -> None:
    if hook not in _events_applied:
        _events_applied.append(hook)


def register_outbox_parked_changed(hook: OutboxParkedChangedHook) -> None:
    if hook not in _outbox_parked_changed:
        _outbox_parked_changed.append(hook)


def outbox_written(messages: Sequence[Any], *, copy: bool) -> None:
    """`messages`: the events.messaging.outbox.OutboxEntry rows just written."""
    for hook in _outbox_written:
        hook(messages=messages, copy=copy)


def events_applied(events: Sequence[Any]) -> None:
    """`events`: the events.messaging.handlers.IncomingEvent just applied."""
    for hook in _events_applied:
        hook(events=events)


def outbox_parked_changed() -> None:
    for hook in _outbox_parked_changed:
        hook()


def registered() -> dict[str, list[str]]:
    """What is registered, by extension point, as module.function names (for tests and operators)."""
    return {
        "outbox_written": [f"{h.__module__}.{h.__qualname__}" for h in _outbox_written],
        "events_applied": [f"{h.__module__}.{h.__qualname__}" for h in _events_applied],
        "outbox_parked_changed": [f"{h.__module__}.{h.__qualname__}" for h in _outbox_parked_changed],
    }
