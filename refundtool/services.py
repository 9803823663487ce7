"""Every write to a refund.

Each service is one transaction: it locks the refund (``select_for_update``), applies one or more
django-fsm-2 transitions, and for each change saves the refund with ``sequence`` + 1 and calls
``_record_changes``, which writes the audit row, the outgoing events and the ``refund_transitioned``
signal. A refused change raises a ``refundtool.exceptions`` error and writes nothing; a repeated
input that is already applied is a no-op and also writes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import Transition

from events.contracts.errors import FieldError
from events.messaging.bulk import insert_objects, insert_rows
from events.messaging.outbox import OutgoingEvent, outbox_messages, outbox_write
from refundtool.exceptions import (
    ActorNotAllowedError,
    IllegalTransitionError,
    RefundError,
    RefundNotFoundError,
    RequestConflictError,
    ValidationError,
)
from refundtool.logging import mask_personal_data
from refundtool.models import (
    PaymentResult,
    ReceiptResult,
    Refund,
    RefundItem,
    RefundItemMark,
    RefundTender,
    RefundTransition,
    TenderResult,
)
from refundtool.payloads import (
    RefundParts,
    item_ready_to_refund_data,
    item_ready_to_refund_v2_data,
    money_refunded_data,
    refund_update_data,
    refund_update_v2_data,
)
from refundtool.signals import refund_transitioned
from refundtool.states import (
    EVENTS_ON_ENTERING,
    ITEM_READY_TO_REFUND,
    MONEY_REFUNDED,
    REFUND_UPDATE,
    ActorKind,
    FiscalStatus,
    RefundStatus,
    TenderStatus,
)
from refundtool.validation import RefundRequest, parse_refund_request

S = RefundStatus
_STATUS_FIELD = Refund._meta.get_field("status")

CREATION = "request"
CREATION_ACTORS = (ActorKind.EVENT, ActorKind.USER)
SYSTEM_ACTOR_ID = "refundtool"
GATEWAY_ACTOR_PREFIX = "gateway:"  # the actor id of an event published through the events-bus gateway
RESOLUTIONS = {
    S.COMPLETED: "resolve_as_completed",
    S.CANCELLED: "resolve_as_cancelled",
    S.REFUNDED: "resolve_as_refunded",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what causes a change: written to the audit row (and, as causation_id, to the events it causes)."""

    kind: ActorKind
    id: str  # the event's producer, the user's username, or the system component
    causing_eid: UUID | None = None

    @classmethod
    def event(cls, *, eid: UUID, producer: str) -> Actor:
        return cls(ActorKind.EVENT, producer, eid)

    @classmethod
    def of_message(cls, *, eid: UUID, metadata: Mapping[str, Any], default_producer: str) -> Actor:
        """The producer of a consumed message; `gateway:<credential>` when it came through the gateway.

        Only the events-bus gateway sets metadata.received_at, and it refuses an event whose
        metadata.producer is not the name of the token's credential: so the audit trail names the
        credential, and tells its events from those a system wrote to Kafka itself.
        """
        producer = str(metadata.get("producer") or default_producer)
        return cls.event(
            eid=eid, producer=f"{GATEWAY_ACTOR_PREFIX}{producer}" if metadata.get("received_at") else producer
        )

    @classmethod
    def user(cls, username: str) -> Actor:
        return cls(ActorKind.USER, username)

    @classmethod
    def system(cls, component: str = SYSTEM_ACTOR_ID, *, causing_eid: UUID | None = None) -> Actor:
        return cls(ActorKind.SYSTEM, component, causing_eid)

    def follow_up(self) -> Actor:
        """The system, finishing what this actor started (same causing event)."""
        return Actor.system(causing_eid=self.causing_eid)


# --- services -----------------------------------------------------------------------------------


def refund_request(*, data: Mapping[str, Any], actor: Actor) -> Refund:
    """Create a refund from the `data` of bob.refund_requested and hand it to Payment, in one transaction.

    Two changes, two audit rows: `request` (sequence 1, status requested) and `send_to_payment`
    (sequence 2, ready_to_refund, with the item_ready_to_refund command). Invalid data raises
    ValidationError with every broken rule. A refund_request_id seen before returns the existing
    refund unchanged when the content is the same, and raises RequestConflictError when it differs; two
    identical requests at once meet at the unique constraint and end the same way.
    """
    [outcome] = _refunds_request([(data, actor)], copy=False)
    if isinstance(outcome, RefundError):
        raise outcome
    return outcome


def refund_request_many(*, requests: Sequence[tuple[Mapping[str, Any], Actor]]) -> list[Refund | RefundError]:
    """refund_request for each (data, actor), as if one after the other, in one transaction and a few statements.

    The consumer's batch path. Outcome i is what refund_request would return for request i (the new
    refund, or the existing one for a duplicate) or the RefundError it would raise; a refused request
    writes nothing and does not stop the others. The rows written (refunds, items, audit rows, outbox
    rows in each refund's order, refund_transitioned signals) are those of refund_request, request by
    request, written through COPY (events.messaging.bulk). A request repeating the refund_request_id
    of an earlier one in `requests` is judged against it.
    """
    return _refunds_request(requests, copy=True)


def _refunds_request(requests: Sequence[tuple[Mapping[str, Any], Actor]], *, copy: bool) -> list[Refund | RefundError]:
    outcomes: dict[int, Refund | RefundError] = {}
    parsed: list[tuple[int, RefundRequest, str, Actor]] = []
    for index, (data, actor) in enumerate(requests):
        try:
            _check_creation_actor(actor)
            request = parse_refund_request(data)
        except RefundError as exc:
            outcomes[index] = exc
            continue
        parsed.append((index, request, request.fingerprint(), actor))
    if parsed:
        with transaction.atomic(savepoint=False):
            try:
                with transaction.atomic():
                    _request_refunds(parsed, outcomes, copy=copy)
            except IntegrityError:
                # A concurrent request with one of these refund_request_ids committed first: judge
                # them again against what is there now (a second failure is not ours to explain).
                _request_refunds(parsed, outcomes, copy=copy)
    return [outcomes[index] for index in range(len(requests))]


def refund_cancel(*, refund_id: UUID, reason: str, actor: Actor) -> Refund:
    """Cancel a refund (BOB's bob.refund_cancelled, or support), unless money may already have left.

    - payment_failed: cancelled (no payment is in flight and none succeeded).
    - ready_to_refund, refunded, fiscal_failed, completed: needs_attention, not cancelled. The
      item_ready_to_refund command is written in the transaction that enters ready_to_refund, so from
      then on Payment may move the money at any moment; only its result can tell.
    - needs_attention: the request is noted on the refund for support.
    - cancelled, or this cancel request (same reason) already recorded: no-op.
    Every row it writes has the reason "Cancel requested: <reason>".
    """
    note = f"Cancel requested: {_required(reason)}"
    with transaction.atomic():
        refund = _locked(refund_id)
        if refund.status == S.CANCELLED or _already_noted(refund, note):
            return refund
        if refund.status == S.PAYMENT_FAILED:
            name = "cancel"
        elif refund.status == S.NEEDS_ATTENTION:
            name = "note_attention"
        else:
            name = "require_attention"
        _apply(refund, name, actor=actor, reason=note)
    return refund


def refund_apply_payment_result(
    *,
    refund_id: UUID,
    succeeded: bool,
    amount: Decimal,
    currency: str,
    processed_at: datetime,
    payment_transaction_id: str = "",
    failure_reason: str = "",
    tenders: Sequence[TenderResult] = (),
    actor: Actor,
) -> Refund:
    """Apply Payment's payment.refund_processed. Idempotent: a result already applied changes nothing.

    A result "fits" when its amount and currency are the refund's, its tenders (version 2) are the
    refund's methods and amounts, and a success names its payment_transaction_id. The first success
    is the refund's money movement (refunded_at, payment_transaction_id); money never "un-leaves".
    Each tender keeps what Payment last reported for it (a version 1 result speaks for every
    tender); a tender's success is never overwritten.
    - succeeded, fits, ready_to_refund or payment_failed (a late success): refunded; where the
      country has no fiscal duty, straight on to completed.
    - succeeded with the recorded payment_transaction_id: a repeat, no-op.
    - succeeded after another success: needs_attention (possible double refund).
    - succeeded but does not fit, or for a cancelled refund: needs_attention, money recorded as left.
    - failed, fits, ready_to_refund: payment_failed. Not fitting: needs_attention.
    - failed with some tenders succeeded (part of the money left): needs_attention, money recorded as left.
    - failed, not newer than the last applied result (a repeat of the failure before a retry): no-op.
    - failed anywhere else (payment_failed, after a success, cancelled): no-op; no money moved.
    - any result while needs_attention: noted on the refund for support.
    A result whose needs_attention reason is already in the refund's history is a repeat: no-op.
    """
    payment = PaymentResult(
        succeeded=succeeded,
        amount=amount,
        currency=currency,
        processed_at=processed_at,
        transaction_id=payment_transaction_id,
        failure_reason=failure_reason,
        tenders=tuple(tenders),
    )
    with transaction.atomic():
        refund = _locked(refund_id)
        change = _payment_change(refund, payment)
        if change is None:
            return refund
        name, reason = change
        if name in ("require_attention", "note_attention") and _already_noted(refund, reason):
            return refund
        _record_tender_results(refund, payment)
        # Reaching refunded sends refundtool.signals.refund_transitioned inside this transaction:
        # fiscalization (fiscalization/wiring.py) creates the refund's 54-FZ receipts in it and
        # enqueues their registration after commit; the outbox carries money_refunded and the
        # refund.update snapshot. Where no receipt is due, the refund goes on to completed here.
        _apply(refund, name, actor=actor, reason=reason, payment=payment)
        _complete_if_no_receipt_due(refund, actor=actor)
    return refund


def refund_apply_fiscal_result(
    *,
    refund_id: UUID,
    succeeded: bool,
    fn_number: str = "",
    fiscal_document_number: str = "",
    fiscal_document_attribute: str = "",
    receipt_datetime: datetime | None = None,
    ofd_receipt_url: str = "",
    reason: str = "",
    actor: Actor,
) -> Refund:
    """Apply the outcome of the refund's fiscal receipt (fiscalization calls it; `succeeded=False` means final).

    - refunded: done -> completed (fiscal_status done, attributes stored); failed -> fiscal_failed.
    - fiscal_failed: done -> completed (a late success); failed again: no-op.
    - needs_attention: the outcome is stored and noted for support.
    - the same outcome already recorded (done with the same fn_number and fiscal_document_number,
      or failed): no-op.
    - no receipt awaited (fiscal_status not_required, or done with other attributes), or the refund
      already completed (support resolved it): IllegalTransitionError; the receipt's own record in
      fiscalization keeps the outcome.
    """
    receipt = ReceiptResult(
        succeeded=succeeded,
        fn_number=fn_number,
        fiscal_document_number=fiscal_document_number,
        fiscal_document_attribute=fiscal_document_attribute,
        receipt_datetime=receipt_datetime,
        ofd_receipt_url=ofd_receipt_url,
    )
    with transaction.atomic():
        refund = _locked(refund_id)
        if _receipt_already_recorded(refund, receipt):
            return refund
        name = "register_receipt" if succeeded else "fail_receipt"
        if refund.fiscal_status not in (FiscalStatus.PENDING, FiscalStatus.FAILED):
            raise IllegalTransitionError(
                f"refund {refund.id} awaits no fiscal receipt (fiscal status {refund.fiscal_status})",
                refund_id=refund.id,
                status=refund.status,
                transition=name,
            )
        if refund.status == S.NEEDS_ATTENTION:
            name = "note_attention"
        _apply(refund, name, actor=actor, reason=reason or _receipt_default_reason(receipt), receipt=receipt)
    return refund


def refund_retry_payment(*, refund_id: UUID, reason: str, actor: Actor) -> Refund:
    """Support: payment_failed -> ready_to_refund, writing item_ready_to_refund again."""
    return _single_change(refund_id, "retry_payment", reason=_required(reason), actor=actor)


def refund_retry_fiscal(*, refund_id: UUID, reason: str, actor: Actor) -> Refund:
    """Support: fiscal_failed -> refunded with fiscal_status pending; fiscalization reacts to the signal."""
    return _single_change(refund_id, "retry_receipt", reason=_required(reason), actor=actor)


def refund_flag_needs_attention(*, refund_id: UUID, reason: str, actor: Actor) -> Refund:
    """Support: park a refund that is not terminal in needs_attention, saying why."""
    return _single_change(refund_id, "flag_needs_attention", reason=_required(reason), actor=actor)


def refund_resolve(*, refund_id: UUID, target: str, reason: str, actor: Actor) -> Refund:
    """Support: end needs_attention, payment_failed or fiscal_failed in a legitimate state.

    - completed: from any of the three (e.g. refunded or receipted outside the tool).
    - cancelled: from needs_attention or payment_failed, only if no payment success is recorded.
    - refunded: from needs_attention, only if a payment success is recorded and the receipt is not
      done; the normal flow goes on (receipt, or completed where none is due).
    """
    reason = _required(reason)
    if target not in RESOLUTIONS:
        raise ValidationError([FieldError("/target", f"{target!r} is not one of {', '.join(RESOLUTIONS)}")])
    with transaction.atomic():
        refund = _locked(refund_id)
        _apply(refund, RESOLUTIONS[RefundStatus(target)], actor=actor, reason=reason)
        _complete_if_no_receipt_due(refund, actor=actor)
    return refund


# --- the machinery ------------------------------------------------------------------------------


def _check_creation_actor(actor: Actor) -> None:
    if actor.kind not in CREATION_ACTORS:
        raise ActorNotAllowedError(
            f"{CREATION} may be triggered by {', '.join(CREATION_ACTORS)}, not {actor.kind}",
            refund_id=None,
            status=None,
            transition=CREATION,
        )


def _request_refunds(
    parsed: Sequence[tuple[int, RefundRequest, str, Actor]], outcomes: dict[int, Refund | RefundError], *, copy: bool
) -> None:
    """Judges each parsed request against the refunds known by its refund_request_id (one query), creates the new."""
    ids = {request.refund_request_id for _, request, _, _ in parsed}
    known = {refund.refund_request_id: refund for refund in Refund.objects.filter(refund_request_id__in=ids)}
    new: list[tuple[Refund, RefundRequest, Actor]] = []
    now = timezone.now()
    for index, request, fingerprint, actor in parsed:
        existing = known.get(request.refund_request_id)
        if existing is None:
            existing = known[request.refund_request_id] = _new_refund(request, fingerprint=fingerprint, now=now)
            new.append((existing, request, actor))
        if existing.request_fingerprint != fingerprint:
            outcomes[index] = RequestConflictError(refund_request_id=request.refund_request_id, refund_id=existing.id)
        else:
            outcomes[index] = existing
    if new:
        _create_refunds(new, now=now, copy=copy)


_SEND_TO_PAYMENT = "send_to_payment"


def _new_refund(request: RefundRequest, *, fingerprint: str, now: datetime) -> Refund:
    return Refund.new(
        refund_request_id=request.refund_request_id,
        request_fingerprint=fingerprint,
        order_number=request.order_number,
        country=request.country,
        currency=request.currency,
        amount=request.amount,
        delivery_amount=request.delivery_amount,
        payment_id=request.payment_id,
        payment_method=request.payment_method,
        customer_email=request.customer_email,
        customer_phone=request.customer_phone,
        requested_at=request.requested_at,
        status=S.REQUESTED,
        sequence=1,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )


_ITEM_COLUMNS = (
    "refund",
    "item_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "vat_rate",
    "reason",
    "measure",
    "payment_method",
    "payment_object",
    "sectoral_props",
)
_TENDER_COLUMNS = ("refund", "position", "method", "amount", "status", "payment_transaction_id", "failure_reason")
_MARK_COLUMNS = ("refund", "item_id", "position", "code", "gtin", "serial", "quantity", "package_quantity")


def _create_refunds(new: Sequence[tuple[Refund, RefundRequest, Actor]], *, now: datetime, copy: bool) -> None:
    """Each new refund is born requested (sequence 1, its first snapshot), then sent to payment through
    the same transition code as every other change, in memory; then every row is written, each kind
    in one statement: the refunds as they are after both changes, their items, and per refund the
    audit rows and events of `request` and of `send_to_payment` (with its item_ready_to_refund command).
    """
    changes = []
    for refund, request, actor in new:
        parts = RefundParts.of_request(request)
        born = _refund_update_events(refund, None, parts)
        changes.append(_Change(refund, CREATION, None, refund.status, refund.sequence, actor, "", born))
        step = actor.follow_up()
        source = _transition(refund, _SEND_TO_PAYMENT, actor=step, reason="", now=now)
        changes.append(_change(refund, transition=_SEND_TO_PAYMENT, source=source, actor=step, reason="", parts=parts))
    insert_objects([refund for refund, _, _ in new], copy=copy)
    insert_rows(
        RefundItem,
        _ITEM_COLUMNS,
        (
            (
                refund.id,
                item.item_id,
                item.sku,
                item.name,
                item.quantity,
                item.unit_price,
                item.vat_rate,
                item.reason,
                item.measure,
                item.payment_method,
                item.payment_object,
                list(item.sectoral_props),
            )
            for refund, request, _ in new
            for item in request.items
        ),
        copy=copy,
    )
    insert_rows(
        RefundTender,
        _TENDER_COLUMNS,
        (
            (refund.id, position, tender.method, tender.amount, TenderStatus.PENDING, "", "")
            for refund, request, _ in new
            for position, tender in enumerate(request.tenders)
        ),
        copy=copy,
    )
    insert_rows(
        RefundItemMark,
        _MARK_COLUMNS,
        (
            (refund.id, item.item_id, position, m.code, m.gtin, m.serial, m.quantity, m.package_quantity)
            for refund, request, _ in new
            for item in request.items
            for position, m in enumerate(item.marks)
        ),
        copy=copy,
    )
    _record_changes(changes, copy=copy)


def _single_change(refund_id: UUID, name: str, *, reason: str, actor: Actor) -> Refund:
    with transaction.atomic():
        refund = _locked(refund_id)
        _apply(refund, name, actor=actor, reason=reason)
    return refund


def _locked(refund_id: UUID) -> Refund:
    try:
        return Refund.objects.select_for_update().prefetch_related("items", "tenders", "marks").get(pk=refund_id)
    except Refund.DoesNotExist:
        raise RefundNotFoundError(f"refund {refund_id} does not exist") from None


def _apply(refund: Refund, name: str, *, actor: Actor, reason: str = "", **facts: Any) -> None:
    """Run the fsm transition `name` (refusing it with a clear error), then save and record the change.

    The reason goes to the refund, its audit row and its refund.update event: a customer's e-mail or
    phone in it (a provider's error that echoes them, a note typed in admin) is masked first.
    """
    reason = mask_personal_data(reason)
    source = _transition(refund, name, actor=actor, reason=reason, now=timezone.now(), **facts)
    refund.save()
    _record_changes([_change(refund, transition=name, source=source, actor=actor, reason=reason)])


@functools.cache
def _declared_transition(name: str, source: str) -> Transition | None:
    return next((t for t in _STATUS_FIELD.get_all_transitions(Refund) if t.name == name and t.source == source), None)


def _transition(refund: Refund, name: str, *, actor: Actor, reason: str, now: datetime, **facts: Any) -> str:
    """Run the fsm transition `name` in memory, refusing it with a clear error; returns the source status."""
    source = refund.status
    declared = _declared_transition(name, source)
    if declared is None:
        raise IllegalTransitionError(
            f"refund {refund.id} is {source}: {name} is not allowed from there",
            refund_id=refund.id,
            status=source,
            transition=name,
        )
    if actor.kind not in declared.custom["actors"]:
        raise ActorNotAllowedError(
            f"{name} may be triggered by {', '.join(declared.custom['actors'])}, not {actor.kind}",
            refund_id=refund.id,
            status=source,
            transition=name,
        )
    unmet = [condition.__doc__ for condition in declared.conditions if not condition(refund)]
    if unmet:
        raise IllegalTransitionError(
            f"refund {refund.id} ({source}) cannot {name}: allowed only if {' and '.join(unmet)}",
            refund_id=refund.id,
            status=source,
            transition=name,
        )
    getattr(refund, name)(**facts)
    refund.sequence += 1
    refund.reason = reason
    if refund.status != source:
        refund.status_changed_at = now
    return source


@dataclass(frozen=True, slots=True)
class _Change:
    """One change of a refund, ready to record: what its audit row says and the events it causes."""

    refund: Refund
    transition: str
    source: str | None
    target: str
    sequence: int
    actor: Actor
    reason: str
    events: list[OutgoingEvent]


def _change(
    refund: Refund,
    *,
    transition: str,
    source: str | None,
    actor: Actor,
    reason: str,
    parts: RefundParts | None = None,
) -> _Change:
    """The change of `refund`, which is already in its new state, and the events it causes.

    refund.update always; item_ready_to_refund on entering ready_to_refund; money_refunded the
    first time it enters refunded. `parts` is the refund's items and tenders when the caller has
    them already.
    """
    target = refund.status
    parts = RefundParts.of_refund(refund) if parts is None else parts
    events = _refund_update_events(refund, source, parts)
    entered = EVENTS_ON_ENTERING.get(RefundStatus(target)) if target != source else None
    if entered == ITEM_READY_TO_REFUND:
        events.extend(_item_ready_to_refund_events(refund, parts))
    elif entered == MONEY_REFUNDED and not refund.transitions.filter(target=S.REFUNDED).exists():
        events.append(OutgoingEvent(MONEY_REFUNDED, money_refunded_data(refund, items=parts.items)))
    return _Change(refund, transition, source, target, refund.sequence, actor, reason, events)


def _publishes_v1(event_type: str) -> bool:
    """Whether version 1 of `event_type` still goes out beside version 2 (REFUNDTOOL_PUBLISH_V1_EVENTS)."""
    return event_type in settings.REFUNDTOOL_PUBLISH_V1_EVENTS


def _refund_update_events(refund: Refund, source: str | None, parts: RefundParts) -> list[OutgoingEvent]:
    events = [OutgoingEvent(REFUND_UPDATE, refund_update_v2_data(refund, source, parts=parts), version=2)]
    if _publishes_v1(REFUND_UPDATE):
        events.insert(0, OutgoingEvent(REFUND_UPDATE, refund_update_data(refund, source, items=parts.items), version=1))
    return events


def _item_ready_to_refund_events(refund: Refund, parts: RefundParts) -> list[OutgoingEvent]:
    """Version 2, and version 1 where it can say the same: one tender, the refund's payment method.

    A v1 reader would return a split refund's whole amount by its first method, so a refund of
    several tenders is commanded in version 2 only.
    """
    events = [OutgoingEvent(ITEM_READY_TO_REFUND, item_ready_to_refund_v2_data(refund, parts=parts), version=2)]
    if _publishes_v1(ITEM_READY_TO_REFUND) and len(parts.tenders) == 1:
        v1 = OutgoingEvent(ITEM_READY_TO_REFUND, item_ready_to_refund_data(refund, items=parts.items), version=1)
        events.insert(0, v1)
    return events


_AUDIT_COLUMNS = (
    "refund",
    "sequence",
    "transition",
    "source",
    "target",
    "actor_kind",
    "actor_id",
    "causing_eid",
    "reason",
    "event_types",
    "at",
)


def _record_changes(changes: Sequence[_Change], *, copy: bool = False) -> None:
    """The one place changes of refunds are recorded, inside the service's transaction.

    The refunds are already saved with their new sequence. It writes the audit rows and the events to
    the transactional outbox (each in one statement, in order), so they commit with the changes, and
    then sends refund_transitioned for each change. `copy` is the consumer's batch path.
    """
    now = timezone.now()
    insert_rows(
        RefundTransition,
        _AUDIT_COLUMNS,
        (
            (
                change.refund.id,
                change.sequence,
                change.transition,
                change.source or "",
                change.target,
                change.actor.kind,
                change.actor.id,
                change.actor.causing_eid,
                change.reason,
                # Each event type once, however many versions of it went out.
                list(dict.fromkeys(event.event_type for event in change.events)),
                now,
            )
            for change in changes
        ),
        copy=copy,
    )
    outbox_write(
        messages=[
            message
            for change in changes
            for message in outbox_messages(
                events=change.events, country=change.refund.country, causation_id=change.actor.causing_eid
            )
        ],
        copy=copy,
    )
    for change in changes:
        refund_transitioned.send(
            sender=Refund,
            refund=change.refund,
            transition=change.transition,
            source=change.source,
            target=change.target,
            sequence=change.sequence,
        )


def _complete_if_no_receipt_due(refund: Refund, *, actor: Actor) -> None:
    """Countries without a fiscal duty go from refunded straight on to completed."""
    if refund.status == S.REFUNDED and refund.fiscal_status == FiscalStatus.NOT_REQUIRED:
        _apply(refund, "complete_without_receipt", actor=actor.follow_up())


def _payment_change(refund: Refund, payment: PaymentResult) -> tuple[str, str] | None:
    """The transition and reason a payment result causes, or None when it changes nothing."""
    status, money_left = refund.status, refund.refunded_at is not None
    attention = "note_attention" if status == S.NEEDS_ATTENTION else "require_attention"
    problem = _payment_problem(refund, payment)
    if payment.succeeded:
        if money_left:
            if payment.transaction_id == refund.payment_transaction_id:
                return None
            return attention, (
                f"Payment reported a second refund ({payment.transaction_id or 'no transaction id'}) after "
                f"{refund.payment_transaction_id or 'one without a transaction id'}: possible double refund"
            )
        if status in (S.READY_TO_REFUND, S.PAYMENT_FAILED) and problem is None:
            return "confirm_payment", ""
        if status == S.CANCELLED:
            problem = f"Payment refunded money ({payment.transaction_id}) for a cancelled refund"
        return attention, problem or f"Payment refunded the money ({payment.transaction_id})"
    repeat = refund.payment_result_at is not None and payment.processed_at <= refund.payment_result_at
    if repeat or money_left or status not in (S.READY_TO_REFUND, S.NEEDS_ATTENTION):
        return None
    if payment.money_left:
        returned = ", ".join(tender.method for tender in payment.tenders if tender.succeeded)
        return attention, f"Payment refunded part of the money ({returned}); the rest failed"
    if status == S.READY_TO_REFUND and problem is None:
        return "fail_payment", payment.failure_reason or "Payment failed without a reason"
    return attention, problem or f"Payment failed: {payment.failure_reason or 'no reason given'}"


def _payment_problem(refund: Refund, payment: PaymentResult) -> str | None:
    if payment.amount != refund.amount or payment.currency != refund.currency:
        return (
            f"Payment reported {payment.amount:.2f} {payment.currency} for a refund of "
            f"{refund.amount:.2f} {refund.currency}"
        )
    if payment.succeeded and not payment.transaction_id:
        return "Payment reported a success without a payment_transaction_id"
    # In any order: each method is once in a refund, and the tenders' results are matched by method.
    reported = sorted((tender.method, tender.amount) for tender in payment.tenders)
    if reported and reported != sorted((tender.method, tender.amount) for tender in refund.tenders.all()):
        return "Payment reported other tenders than the refund's"
    return None


def _record_tender_results(refund: Refund, payment: PaymentResult) -> None:
    """What Payment reported for each tender, on the refund's prefetched tenders (for its events) and in the table.

    A version 1 result reports the whole refund: it stands for every tender. A tender Payment
    reported as succeeded stays so: money never "un-leaves".
    """
    reported = {tender.method: tender for tender in payment.tenders}
    whole = TenderResult("", payment.amount, payment.succeeded, payment.transaction_id, payment.failure_reason)
    changed = []
    for tender in refund.tenders.all():
        result = reported.get(tender.method) if reported else whole
        if result is None or tender.status == TenderStatus.SUCCEEDED:
            continue
        tender.status = TenderStatus.SUCCEEDED if result.succeeded else TenderStatus.FAILED
        tender.payment_transaction_id = result.transaction_id
        tender.failure_reason = mask_personal_data(result.failure_reason)[:500]
        changed.append(tender)
    RefundTender.objects.bulk_update(changed, ["status", "payment_transaction_id", "failure_reason"])


def _receipt_already_recorded(refund: Refund, receipt: ReceiptResult) -> bool:
    if not receipt.succeeded:
        return refund.fiscal_status == FiscalStatus.FAILED
    return (
        refund.fiscal_status == FiscalStatus.DONE
        and refund.fn_number == receipt.fn_number
        and refund.fiscal_document_number == receipt.fiscal_document_number
    )


def _receipt_default_reason(receipt: ReceiptResult) -> str:
    return "" if receipt.succeeded else "Fiscal receipt failed without a reason"


def _already_noted(refund: Refund, reason: str) -> bool:
    """A note the refund's history already holds (the same cancel, the same second refund) adds nothing."""
    return refund.transitions.filter(reason=mask_personal_data(reason)).exists()  # stored masked, by _apply


def _required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError([FieldError("/reason", "is required: say why")])
    return reason
