"""Which function handles which consumed event type. Apps register theirs in AppConfig.ready."""

from __future__ import annotations

from collections.abc import Callable
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
events.exceptions.RejectMessage or RetryMessageLater to route the message."""

_handlers: dict[str, Handler] = {}


def register_handler(event_type: str, handler: Handler) -> None:
    existing = _handlers.get(event_type)
    if existing is not None and existing is not handler:
        raise ValueError(f"{event_type} already has a handler: {existing!r}")
    _handlers[event_type] = handler


def handler_for(event_type: str) -> Handler | None:
    return _handlers.get(event_type)


def handled_event_types() -> list[str]:
    return sorted(_handlers)
