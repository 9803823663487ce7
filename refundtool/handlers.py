"""Consumer entry points for BOB's events: parse, call one service, translate refusals.

A refusal by the domain (invalid content, a conflicting repeat, an illegal transition) is the
message's fault: it goes to the dead-letter topic with the reason. Anything else is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from events.messaging.exceptions import RejectMessage
from events.messaging.handlers import IncomingEvent
from refundtool.exceptions import RefundError, RefundNotFoundError
from refundtool.selectors import refund_get_by_request_id
from refundtool.services import Actor, refund_cancel, refund_request, refund_request_many


def _actor(event: IncomingEvent) -> Actor:
    return Actor.of_message(eid=event.eid, metadata=event.metadata, default_producer="bob")


def handle_refund_requested(event: IncomingEvent) -> None:
    try:
        refund_request(data=event.data, actor=_actor(event))
    except RefundError as exc:
        raise RejectMessage(_reason(exc)) from exc


def handle_refund_requested_many(events: Sequence[IncomingEvent]) -> dict[int, str]:
    """The batch form of handle_refund_requested: one set-based write for a run of requests."""
    outcomes = refund_request_many(requests=[(event.data, _actor(event)) for event in events])
    return {index: _reason(outcome) for index, outcome in enumerate(outcomes) if isinstance(outcome, RefundError)}


def _reason(exc: RefundError) -> str:
    return f"{type(exc).__name__}: {exc}"


def handle_refund_cancelled(event: IncomingEvent) -> None:
    try:
        # BOB keys both events by order number, so a request always arrives before its cancel.
        refund = refund_get_by_request_id(refund_request_id=UUID(event.data["refund_request_id"]))
        refund_cancel(refund_id=refund.id, reason=event.data["reason"], actor=_actor(event))
    except RefundNotFoundError as exc:
        raise RejectMessage(f"no refund for refund_request_id {event.data['refund_request_id']}") from exc
    except RefundError as exc:
        raise RejectMessage(_reason(exc)) from exc
