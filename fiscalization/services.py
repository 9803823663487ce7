"""The life of a fiscal receipt: created with the refund's change, registered, polled, settled, swept.

Flow. When a refund enters ``refunded`` with a receipt due, ``receipts_create_for_refund`` writes the
pending receipts in the same transaction and enqueues their registration after commit.
``receipt_register`` sends the stored body under the receipt's external_id (a resend after a lost
answer gets the same uuid back, code 33) and enqueues ``receipt_poll``, which asks for the report
until it is final. ``done`` on every part completes the refund through the domain; a final ``fail``
moves it to ``fiscal_failed``; a ``fail`` of type timeout registers the part again under a new
external_id, as the provider's rule says. ``receipts_sweep`` (beat) re-enqueues receipts whose task
was lost, flags receipts past their deadline and settles refunds whose receipts are all final.

Retries: the provider being unavailable raises ``ProviderUnavailable`` out of ``receipt_register`` and
``receipt_poll``; their Celery tasks declare the retries. Before raising, the receipt's
``next_attempt_at`` is moved past the longest backoff, so the sweep does not double a retry that is
only waiting. Every step is guarded by a conditional update on the receipt's status, so a task
delivered twice, or a poll chain doubled by the sweep, changes nothing the second time.

Corrections. Support asks for a correction receipt (``correction_receipt_request``, an admin action
that fiscalization registers on the refund page) when a refund's receipt was done but wrong, or
failed for good past its SLA. It is its own document (``CorrectionReceipt``, a django-fsm-2 status):
registered with ``sell_refund_correction`` under its own external_id, polled, swept for lost tasks
and for its own deadline (``FISCAL_CORRECTION_SLA_SECONDS``) like a receipt; once done it settles
a refund whose receipt had failed.

Locks: the refund row first, then its receipts, everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from events.contracts.errors import FieldError
from fiscalization import metrics
from fiscalization.builder import (
    Company,
    CorrectionBasis,
    ReceiptBuildError,
    client_of,
    sell_refund_body,
    sell_refund_correction_body,
    split_positions,
    tender_shares,
)
from fiscalization.models import LIVE_STATUSES, CorrectionReceipt, CorrectionType, Receipt, ReceiptStatus
from fiscalization.provider import (
    AtolClient,
    FiscalAttributes,
    ProviderAnswerInvalid,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    Report,
)
from fiscalization.selectors import (
    correction_next_seq,
    correction_refusal,
    latest_receipts_by_part,
    receipt_source_of,
)
from refundtool.celery import app as celery_app
from refundtool.exceptions import IllegalTransitionError, RefundNotFoundError, ValidationError
from refundtool.logging import mask_personal_data
from refundtool.models import Refund
from refundtool.services import Actor, refund_apply_fiscal_result
from refundtool.states import TERMINAL_STATUSES, FiscalStatus, RefundStatus

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
POLL_BACKOFF_LIMIT = 8
CLOSED = TERMINAL_STATUSES  # completed, cancelled: nothing is sent for them any more
ACTOR = Actor.system("fiscalization")
# A done correction settles the refund's receipt in these states (completed by support takes nothing).
CORRECTABLE_REFUND_STATUSES = (RefundStatus.FISCAL_FAILED, RefundStatus.NEEDS_ATTENTION)
# refund.update's Reason (events/contracts/spec/_types.yaml): a longer one fails the event's validation.
REASON_MAX_LENGTH = 500


def _attempt_lease() -> timedelta:
    """The longest one provider call can take: a token, the request, and the request again after code 11."""
    return timedelta(seconds=3 * settings.FISCAL_HTTP_TIMEOUT_SECONDS)


def _after_longest_backoff(now: datetime) -> datetime:
    return now + _attempt_lease() + timedelta(seconds=settings.FISCAL_RETRY_BACKOFF_MAX_SECONDS)


# The Celery tasks (fiscalization.tasks) call these services; the services enqueue the tasks by name,
# so neither module imports the other. CELERY_TASK_ROUTES sends every one to the fiscal queue.
REGISTER_RECEIPT_TASK = "fiscalization.register_receipt"
POLL_RECEIPT_TASK = "fiscalization.poll_receipt"
SETTLE_REFUND_TASK = "fiscalization.settle_refund"
SWEEP_RECEIPTS_TASK = "fiscalization.sweep_receipts"
REGISTER_CORRECTION_TASK = "fiscalization.register_correction"
POLL_CORRECTION_TASK = "fiscalization.poll_correction"


def _enqueue(task: str, *args: object, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: celery_app.send_task(task, args=args, countdown=countdown), robust=True)


def _enqueue_register(receipt_id: int) -> None:
    _enqueue(REGISTER_RECEIPT_TASK, receipt_id)


def _enqueue_poll(receipt_id: int, *, countdown: float) -> None:
    _enqueue(POLL_RECEIPT_TASK, receipt_id, countdown=countdown)


def _enqueue_settle(refund_id: UUID) -> None:
    _enqueue(SETTLE_REFUND_TASK, str(refund_id))


# --- creation -------------------------------------------------------------------------------------


def receipts_create_for_refund(*, refund: Refund) -> list[Receipt]:
    """The receipts a refund still owes: one per part whose latest receipt is missing or failed.

    Runs inside the transaction that changed the refund (the refund row is locked there). A refund
    that cannot make a valid receipt gets a failed receipt carrying the reason, and is settled to
    fiscal_failed after commit: support sees why, and nothing is sent that the provider must refuse.
    """
    now = timezone.now()
    latest = latest_receipts_by_part(refund)
    refunded_at = refund.refunded_at or now
    deadline = refunded_at + timedelta(seconds=settings.FISCAL_SLA_SECONDS)
    try:
        source = receipt_source_of(refund)
        parts = split_positions(source)
        client = client_of(source)
        company = Company.from_settings()
        shares = tender_shares(source.tenders, parts)
        bodies = [
            (
                number,
                sell_refund_body(
                    positions=positions,
                    client=client,
                    tenders=tenders,
                    company=company,
                    external_id=_external_id(refund, number, latest.get(number)),
                    at=now,
                ),
            )
            for number, (positions, tenders) in enumerate(zip(parts, shares, strict=True), start=1)
            if _owed(latest.get(number))
        ]
    except ReceiptBuildError as exc:
        failed = Receipt.objects.create(
            refund=refund,
            part=1,
            seq=_next_seq(latest.get(1)),
            external_id=_external_id(refund, 1, latest.get(1)),
            body={},
            total=refund.amount,
            status=ReceiptStatus.FAIL,
            last_error=f"no receipt can be built: {exc}",
            refunded_at=refunded_at,
            deadline=deadline,
            done_at=now,
        )
        logger.warning("refund %s: no receipt can be built: %s", refund.id, exc)
        _enqueue_settle(refund.id)
        return [failed]
    if not bodies:
        # Every part is already done or under way (support re-entered refunded): only the outcome is due.
        _enqueue_settle(refund.id)
        return []
    receipts = Receipt.objects.bulk_create(
        Receipt(
            refund=refund,
            part=number,
            seq=_next_seq(latest.get(number)),
            external_id=body["external_id"],
            body=body,
            total=body["receipt"]["total"],
            refunded_at=refunded_at,
            deadline=deadline,
            created_at=now,
            next_attempt_at=now,
        )
        for number, body in bodies
    )
    for receipt in receipts:
        _enqueue_register(receipt.id)
    return receipts


def _owed(latest: Receipt | None) -> bool:
    return latest is None or latest.status == ReceiptStatus.FAIL


def _next_seq(latest: Receipt | None) -> int:
    return 1 if latest is None else latest.seq + 1


def _external_id(refund: Refund, part: int, latest: Receipt | None) -> str:
    return f"{refund.id}-{part}-{_next_seq(latest)}"


# --- registration and report ----------------------------------------------------------------------


def receipt_register(*, receipt_id: int) -> None:
    """Send the receipt's body to the provider; on a uuid, enqueue the report poll. Raises ProviderUnavailable."""
    receipt = Receipt.objects.select_related("refund").filter(id=receipt_id).first()
    if receipt is not None and receipt.status == ReceiptStatus.PENDING and receipt.refund.status in CLOSED:
        # Support closed the refund (e.g. receipted outside the tool): a receipt now would be a second one.
        _finish_failed(receipt, reason=f"not sent: the refund was {receipt.refund.status} before it was")
        return
    sendable = Receipt.objects.filter(id=receipt_id, status__in=(ReceiptStatus.PENDING, ReceiptStatus.SENT))
    claimed = sendable.update(
        status=ReceiptStatus.SENT, attempts=F("attempts") + 1, next_attempt_at=timezone.now() + _attempt_lease()
    )
    if receipt is None or not claimed:
        return  # registered (or finished) by an earlier delivery of this task
    try:
        registration = AtolClient.from_settings().sell_refund(receipt.body)
    except ProviderRejected as exc:
        _finish_failed(receipt, reason=f"the provider refused the receipt: {exc.text}")
        return
    except ProviderAnswerInvalid as exc:
        _finish_failed(receipt, reason=f"the provider's answer to the registration is not valid: {exc}")
        return
    except ProviderUnavailable as exc:
        sendable.update(last_error=str(exc), next_attempt_at=_after_longest_backoff(timezone.now()))
        raise
    poll_in = settings.FISCAL_POLL_INTERVAL_SECONDS
    now = timezone.now()
    with transaction.atomic():
        registered = sendable.update(
            status=ReceiptStatus.WAIT,
            provider_uuid=registration.uuid,
            registered_at=now,
            next_attempt_at=now + timedelta(seconds=poll_in),
            last_error="",
        )
        if registered:
            _enqueue_poll(receipt_id, countdown=poll_in)


def receipt_poll(*, receipt_id: int) -> None:
    """Ask for the report once: wait -> poll again later; done, fail -> record and settle the refund."""
    receipt = Receipt.objects.filter(id=receipt_id).first()
    if receipt is None or receipt.status != ReceiptStatus.WAIT:
        return
    waiting = Receipt.objects.filter(id=receipt_id, status=ReceiptStatus.WAIT)
    waiting.update(attempts=F("attempts") + 1, next_attempt_at=timezone.now() + _attempt_lease())
    try:
        report = AtolClient.from_settings().report(receipt.provider_uuid)
    except ProviderAnswerInvalid as exc:
        # The same report comes back on every poll: fail the receipt, so support sees why, instead of polling forever.
        _finish_failed(receipt, reason=f"the provider's done report is not valid: {exc}")
        return
    except ProviderError as exc:
        # A refused report request says nothing final about the document: ask again later.
        waiting.update(last_error=str(exc), next_attempt_at=_after_longest_backoff(timezone.now()))
        raise ProviderUnavailable(str(exc)) from exc
    if report.status == "wait" and _lost_by_the_provider(report, registered_at=receipt.registered_at):
        # Registering again under the same external_id is safe: a provider that still has the
        # document answers with its uuid (code 33), one that lost it registers it now.
        with transaction.atomic():
            if waiting.update(
                status=ReceiptStatus.PENDING,
                next_attempt_at=timezone.now(),
                last_error="the provider did not know the receipt's uuid; registered again under its external_id",
            ):
                transaction.on_commit(lambda: logger.warning("receipt %s unknown to the provider", receipt.external_id))
                _enqueue_register(receipt_id)
    elif report.status == "wait":
        poll_in = _next_poll_in(since=receipt.registered_at or receipt.created_at)
        with transaction.atomic():
            if waiting.update(next_attempt_at=timezone.now() + timedelta(seconds=poll_in)):
                _enqueue_poll(receipt_id, countdown=poll_in)
    elif report.fiscal is not None:  # done
        _finish_done(receipt, report.fiscal)
    elif report.is_timeout:
        _register_again(receipt, report)
    else:
        _finish_failed(receipt, reason=f"the provider failed the receipt ({report.error_type}): {report.error_text}")


def _lost_by_the_provider(report: Report, *, registered_at: datetime | None) -> bool:
    """The provider has had no state for the document for FISCAL_REPORT_UNKNOWN_SECONDS since it took it:
    it lost it (a restart of a provider that keeps documents in memory, as the emulator does)."""
    if not report.unknown or registered_at is None:
        return False
    return (timezone.now() - registered_at).total_seconds() > settings.FISCAL_REPORT_UNKNOWN_SECONDS


def _next_poll_in(*, since: datetime) -> float:
    """Ask again after as long as the receipt has already waited, from the interval up to 8 times it.

    A healthy provider answers done within a second or two, and is asked quickly; a slow one is
    asked a few times, not every interval.
    """
    interval = settings.FISCAL_POLL_INTERVAL_SECONDS
    waited = (timezone.now() - since).total_seconds()
    return min(max(waited, interval), POLL_BACKOFF_LIMIT * interval)


def _finish_done(receipt: Receipt, fiscal: FiscalAttributes) -> None:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(id=receipt.refund_id)
        done_at = timezone.now()
        if not Receipt.objects.filter(id=receipt.id, status=ReceiptStatus.WAIT).update(
            status=ReceiptStatus.DONE,
            fn_number=fiscal.fn_number,
            fiscal_document_number=fiscal.fiscal_document_number,
            fiscal_document_attribute=fiscal.fiscal_document_attribute,
            receipt_datetime=fiscal.receipt_datetime,
            ofd_receipt_url=fiscal.ofd_receipt_url,
            done_at=done_at,
            last_error="",
        ):
            return
        late = Receipt.objects.filter(id=receipt.id, deadline__lt=done_at, breached_at__isnull=True).update(
            breached_at=done_at
        )
        latency = (done_at - receipt.refunded_at).total_seconds()
        transaction.on_commit(lambda: metrics.REFUNDED_TO_DONE_SECONDS.observe(latency))
        if late:
            transaction.on_commit(metrics.SLA_BREACHES.inc)
        _settle(refund)


def _finish_failed(receipt: Receipt, *, reason: str) -> None:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(id=receipt.refund_id)
        if Receipt.objects.filter(id=receipt.id, status__in=LIVE_STATUSES).update(
            status=ReceiptStatus.FAIL, last_error=reason, done_at=timezone.now()
        ):
            logger.warning("receipt %s failed for good: %s", receipt.external_id, reason)
            _settle(refund)


def _register_again(receipt: Receipt, report: Report) -> None:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(id=receipt.refund_id)
        if Receipt.objects.filter(id=receipt.id, status=ReceiptStatus.WAIT).update(
            status=ReceiptStatus.FAIL,
            last_error=f"the provider timed out ({report.error_text}); registered again under a new external_id",
            done_at=timezone.now(),
        ):
            receipts_create_for_refund(refund=refund)


# --- settling the refund --------------------------------------------------------------------------


def refund_fiscal_settle(*, refund_id: UUID) -> None:
    """Apply the outcome of a refund's receipts to the refund, when they are all final."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(id=refund_id).first()
        if refund is not None:
            _settle(refund)


def _settle(refund: Refund) -> None:
    """With the refund row locked: done on every part completes it; a part failed for good fails it.

    A refund that support already resolved as completed takes no result; the receipts keep theirs.
    """
    if refund.fiscal_status != FiscalStatus.PENDING or refund.status == RefundStatus.COMPLETED:
        return
    latest = latest_receipts_by_part(refund)
    failed = [receipt for receipt in latest.values() if receipt.status == ReceiptStatus.FAIL]
    if failed:
        reason = "; ".join(f"receipt {receipt.external_id}: {receipt.last_error}" for receipt in failed)
        if len(reason) > REASON_MAX_LENGTH:  # else the refund's change fails, and so every settle after it
            reason = reason[: REASON_MAX_LENGTH - 1] + "…"
        refund_apply_fiscal_result(refund_id=refund.id, succeeded=False, reason=reason, actor=ACTOR)
        return
    if not latest or any(receipt.is_live for receipt in latest.values()):
        return
    # refund.update carries one set of fiscal attributes: those of the first receipt of a split refund.
    first = latest[min(latest)]
    refund_apply_fiscal_result(
        refund_id=refund.id,
        succeeded=True,
        fn_number=first.fn_number,
        fiscal_document_number=first.fiscal_document_number,
        fiscal_document_attribute=first.fiscal_document_attribute,
        receipt_datetime=first.receipt_datetime,
        ofd_receipt_url=first.ofd_receipt_url,
        reason=f"fiscal receipt registered: {', '.join(receipt.external_id for receipt in latest.values())}",
        actor=ACTOR,
    )


# --- correction receipts -------------------------------------------------------------------------


def correction_receipt_request(
    *,
    refund_id: UUID,
    correction_type: str,
    base_date: date,
    base_number: str,
    reason: str,
    actor: Actor,
    seq: int | None = None,
) -> CorrectionReceipt:
    """Support: register a correction receipt (sell_refund_correction) of a refund's wrong or failed receipt.

    `seq` is the number that the support page said the correction would take: a form sent twice, or
    after somebody else's correction, is refused instead of registering another document.

    One transaction: the refund row is locked, the request checked (``correction_refusal``), the
    body built and stored with the audit of the request (the user, the reason, the basis), and the
    registration enqueued after commit. A refusal raises a ``refundtool.exceptions`` error and
    writes nothing. Once done, a refund whose receipt had failed completes with the correction's
    fiscal attributes; a refund whose receipt was done keeps its state.
    """
    reason = mask_personal_data(reason.strip())
    errors = [FieldError("/reason", "is required: say why")] if not reason else []
    if correction_type not in CorrectionType.values:
        errors.append(FieldError("/correction_type", f"must be one of {', '.join(CorrectionType.values)}"))
    if correction_type == CorrectionType.INSTRUCTION and not base_number.strip():
        errors.append(
            FieldError("/base_number", "is required for a correction by instruction: the instruction's number")
        )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(id=refund_id).first()
        if refund is None:
            raise RefundNotFoundError(f"refund {refund_id} does not exist")
        refusal = correction_refusal(refund, now=now)
        next_seq = correction_next_seq(refund)
        if refusal is None and seq is not None and seq != next_seq:
            refusal = (
                f"the form was for its correction {seq}, but its next correction is {next_seq} (one was asked "
                "for since the form was opened): open the form again"
            )
        seq = next_seq
        external_id = f"{refund.id}-c{seq}"
        try:
            if refusal is not None:
                raise ReceiptBuildError(refusal)
            body = sell_refund_correction_body(
                receipt_source_of(refund),
                basis=CorrectionBasis(type=correction_type, base_date=base_date, base_number=base_number.strip()),
                company=Company.from_settings(),
                external_id=external_id,
                at=now,
            )
        except ReceiptBuildError as exc:
            raise IllegalTransitionError(
                f"no correction receipt for refund {refund.id}: {exc}",
                refund_id=refund.id,
                status=refund.status,
                transition="correction_receipt",
            ) from exc
        correction = CorrectionReceipt.objects.create(
            refund=refund,
            seq=seq,
            external_id=external_id,
            body=body,
            total=body["correction"]["total"],
            correction_type=correction_type,
            base_date=base_date,
            base_number=base_number.strip(),
            corrected_receipt=Receipt.objects.filter(refund=refund).order_by("-created_at", "-id").first(),
            requested_by=actor.id,
            reason=reason,
            requested_at=now,
            deadline=now + timedelta(seconds=settings.FISCAL_CORRECTION_SLA_SECONDS),
            next_attempt_at=now,
        )
        logger.info("refund %s: correction receipt %s asked for by %s", refund.id, external_id, actor.id)
        _enqueue(REGISTER_CORRECTION_TASK, correction.id)
    return correction


def correction_register(*, correction_id: int) -> None:
    """Send the correction's body; on a uuid, enqueue its report poll. Raises ProviderUnavailable."""
    with transaction.atomic():
        correction = CorrectionReceipt.objects.select_for_update().filter(id=correction_id).first()
        if correction is None or not can_proceed(correction.send):
            return  # registered (or finished) by an earlier delivery of this task
        correction.send(lease_until=timezone.now() + _attempt_lease())
        correction.save()
    try:
        registration = AtolClient.from_settings().sell_refund_correction(correction.body)
    except ProviderRejected as exc:
        _correction_failed(correction_id, reason=f"the provider refused the correction: {exc.text}")
        return
    except ProviderAnswerInvalid as exc:
        _correction_failed(correction_id, reason=f"the provider's answer to the registration is not valid: {exc}")
        return
    except ProviderUnavailable as exc:
        CorrectionReceipt.objects.filter(id=correction_id, status=ReceiptStatus.SENT).update(
            last_error=str(exc), next_attempt_at=_after_longest_backoff(timezone.now())
        )
        raise
    poll_in = settings.FISCAL_POLL_INTERVAL_SECONDS
    with transaction.atomic():
        correction = CorrectionReceipt.objects.select_for_update().get(id=correction_id)
        if can_proceed(correction.register):
            now = timezone.now()
            correction.register(uuid=registration.uuid, at=now, poll_at=now + timedelta(seconds=poll_in))
            correction.save()
            _enqueue(POLL_CORRECTION_TASK, correction_id, countdown=poll_in)


def correction_poll(*, correction_id: int) -> None:
    """Ask for the correction's report once: wait -> poll again later; done or fail -> record it.

    Any fail is final for the correction (a timeout too): support sees why and may ask again.
    """
    correction = CorrectionReceipt.objects.filter(id=correction_id, status=ReceiptStatus.WAIT).first()
    if correction is None:
        return
    waiting = CorrectionReceipt.objects.filter(id=correction_id, status=ReceiptStatus.WAIT)
    waiting.update(attempts=F("attempts") + 1, next_attempt_at=timezone.now() + _attempt_lease())
    try:
        report = AtolClient.from_settings().report(correction.provider_uuid)
    except ProviderAnswerInvalid as exc:
        _correction_failed(correction_id, reason=f"the provider's done report is not valid: {exc}")
        return
    except ProviderError as exc:
        waiting.update(last_error=str(exc), next_attempt_at=_after_longest_backoff(timezone.now()))
        raise ProviderUnavailable(str(exc)) from exc
    if report.status == "wait" and _lost_by_the_provider(report, registered_at=correction.registered_at):
        with transaction.atomic():
            correction = CorrectionReceipt.objects.select_for_update().get(id=correction_id)
            if can_proceed(correction.register_again):
                correction.register_again(at=timezone.now())
                correction.save()
                external_id = correction.external_id
                transaction.on_commit(lambda: logger.warning("correction %s unknown to the provider", external_id))
                _enqueue(REGISTER_CORRECTION_TASK, correction_id)
    elif report.status == "wait":
        poll_in = _next_poll_in(since=correction.registered_at or correction.requested_at)
        with transaction.atomic():
            if waiting.update(next_attempt_at=timezone.now() + timedelta(seconds=poll_in)):
                _enqueue(POLL_CORRECTION_TASK, correction_id, countdown=poll_in)
    elif report.fiscal is not None:
        _correction_done(correction_id, report.fiscal)
    else:
        _correction_failed(
            correction_id, reason=f"the provider failed the correction ({report.error_type}): {report.error_text}"
        )


def _correction_done(correction_id: int, fiscal: FiscalAttributes) -> None:
    with transaction.atomic():
        # Locks in the app's order: the refund row first, then its document.
        refund_id = CorrectionReceipt.objects.values_list("refund_id", flat=True).get(id=correction_id)
        refund = Refund.objects.select_for_update().get(id=refund_id)
        correction = CorrectionReceipt.objects.select_for_update().get(id=correction_id)
        if not can_proceed(correction.finish):
            return
        now = timezone.now()
        correction.finish(fiscal=fiscal, at=now)
        correction.save()
        if correction.breached_at == now:
            transaction.on_commit(metrics.CORRECTION_SLA_BREACHES.inc)
        # The correction is the receipt the refund was owed: it completes (or, waiting for support, notes it).
        if refund.fiscal_status == FiscalStatus.FAILED and refund.status in CORRECTABLE_REFUND_STATUSES:
            refund_apply_fiscal_result(
                refund_id=refund.id,
                succeeded=True,
                fn_number=fiscal.fn_number,
                fiscal_document_number=fiscal.fiscal_document_number,
                fiscal_document_attribute=fiscal.fiscal_document_attribute,
                receipt_datetime=fiscal.receipt_datetime,
                ofd_receipt_url=fiscal.ofd_receipt_url,
                reason=f"correction receipt {correction.external_id} registered (asked by {correction.requested_by})",
                actor=ACTOR,
            )


def _correction_failed(correction_id: int, *, reason: str) -> None:
    with transaction.atomic():
        correction = CorrectionReceipt.objects.select_for_update().get(id=correction_id)
        if can_proceed(correction.fail):
            correction.fail(reason=reason, at=timezone.now())
            correction.save()
            logger.warning("correction receipt %s failed for good: %s", correction.external_id, reason)


# --- the sweep ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    requeued_registrations: int
    requeued_polls: int
    breached: int
    settled: int
    requeued_corrections: int = 0
    corrections_breached: int = 0


def receipts_sweep(*, now: datetime | None = None) -> SweepResult:
    """Beat's 30-second pass: re-enqueue lost tasks, flag receipts past their deadline, settle refunds."""
    now = now or timezone.now()
    lost_before = now - timedelta(seconds=settings.FISCAL_LOST_TASK_SECONDS)
    registrations = polls = 0
    lost = Receipt.objects.filter(status__in=LIVE_STATUSES, next_attempt_at__lt=lost_before).order_by(
        "next_attempt_at"
    )[:SWEEP_BATCH]
    for receipt in lost:
        claimed = Receipt.objects.filter(
            id=receipt.id, status=receipt.status, next_attempt_at=receipt.next_attempt_at
        ).update(next_attempt_at=now + _attempt_lease())
        if not claimed:
            continue
        if receipt.status == ReceiptStatus.WAIT:
            _enqueue_poll(receipt.id, countdown=0)
            polls += 1
        else:
            _enqueue_register(receipt.id)
            registrations += 1
    overdue = list(
        Receipt.objects.filter(status__in=LIVE_STATUSES, breached_at__isnull=True, deadline__lt=now).values_list(
            "id", flat=True
        )[:SWEEP_BATCH]
    )
    breached = Receipt.objects.filter(id__in=overdue, breached_at__isnull=True).update(breached_at=now)
    if breached:
        metrics.SLA_BREACHES.inc(breached)
        logger.warning("%d fiscal receipt(s) passed their SLA deadline", breached)
    unsettled = (
        Refund.objects.filter(fiscal_status=FiscalStatus.PENDING, receipts__isnull=False)
        .exclude(status=RefundStatus.COMPLETED)
        .exclude(receipts__status__in=LIVE_STATUSES)
        .values_list("id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    settled = 0
    for refund_id in list(unsettled):
        refund_fiscal_settle(refund_id=refund_id)
        settled += 1
    requeued_corrections, corrections_breached = _corrections_sweep(now=now, lost_before=lost_before)
    return SweepResult(
        requeued_registrations=registrations,
        requeued_polls=polls,
        breached=breached,
        settled=settled,
        requeued_corrections=requeued_corrections,
        corrections_breached=corrections_breached,
    )


def _corrections_sweep(*, now: datetime, lost_before: datetime) -> tuple[int, int]:
    """Correction receipts get the same watch as receipts: lost tasks enqueued again, missed deadlines flagged."""
    requeued = 0
    lost = CorrectionReceipt.objects.filter(status__in=LIVE_STATUSES, next_attempt_at__lt=lost_before).order_by(
        "next_attempt_at"
    )[:SWEEP_BATCH]
    for correction in lost:
        if CorrectionReceipt.objects.filter(
            id=correction.id, status=correction.status, next_attempt_at=correction.next_attempt_at
        ).update(next_attempt_at=now + _attempt_lease()):
            task = POLL_CORRECTION_TASK if correction.status == ReceiptStatus.WAIT else REGISTER_CORRECTION_TASK
            _enqueue(task, correction.id, countdown=0)
            requeued += 1
    overdue = list(
        CorrectionReceipt.objects.filter(
            status__in=LIVE_STATUSES, breached_at__isnull=True, deadline__lt=now
        ).values_list("id", flat=True)[:SWEEP_BATCH]
    )
    breached = CorrectionReceipt.objects.filter(id__in=overdue, breached_at__isnull=True).update(breached_at=now)
    if breached:
        metrics.CORRECTION_SLA_BREACHES.inc(breached)
        logger.warning("%d correction receipt(s) passed their SLA deadline", breached)
    return requeued, breached
