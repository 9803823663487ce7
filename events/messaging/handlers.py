"""Which function handles which consumed event type. Apps register theirs in AppConfig.ready."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    event_type: str
    eid: UUID
    metadata: dict[str, Any]
    data: dict[str, Any]
    topic: str
    partition: int
    offset: int
    key: str | None


Handler = Callable[[IncomingEvent], None]
"""Runs inside the transaction that also records the event in the inbox; raises
events.messaging.exceptions.RejectMessage or RetryMessageLater to route the message."""

BatchHandler = Callable[[Sequence[IncomingEvent]], Mapping[int, str]]
"""Optional, next to the Handler of an event type: applies a run of new events of that type (in
partition order, each already recorded in the inbox) in the transaction of the batch, as the Handler
would one after the other. Returns {index: reason} of the events it refuses, for which it writes
nothing: they go to the dead-letter topic as if the Handler had raised RejectMessage. Raising
anything instead makes the consumer undo the run and apply it again, one event at a time, with the
Handler (which also decides about retries)."""

_handlers: dict[str, Handler] = {}
_batch_handlers: dict[str, BatchHandler] = {}


def register_handler(event_type: str, handler: Handler) -> None:
    existing = _handlers.get(event_type)
    if existing is not None and existing is not handler:
        raise ValueError(f"{event_type} already has a handler: {existing!r}")
    _handlers[event_type] = handler


def register_batch_handler(event_type: str, handler: BatchHandler) -> None:
    existing = _batch_handlers.get(event_type)
    if existing is not None and existing is not handler:
        raise ValueError(f"{event_type} already has a batch handler: {existing!r}")
    _batch_handlers[event_type] = handler


def batch_handler_for(event_type: str) -> BatchHandler | None:
    """The batch handler of `event_type`, only where it also has a Handler to fall back on."""
    return _batch_handlers.get(event_type) if event_type in _handlers else None


def handler_for(event_type: str) -> Handler | None:
    return _handlers.get(event_type)


def handled_event_types() -> list[str]:
    return sorted(_handlers)
