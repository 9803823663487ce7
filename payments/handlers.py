"""Consumer entry point for Payment's answer to item_ready_to_refund (payment.refund_processed v1 and v2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from events.contracts.errors import FieldError
from events.messaging.exceptions import RejectMessage, RetryMessageLater
from events.messaging.handlers import IncomingEvent
from refundtool.exceptions import RefundError, RefundNotFoundError
from refundtool.models import TenderResult
from refundtool.services import Actor, refund_apply_payment_result


def handle_refund_processed(event: IncomingEvent) -> None:
    data = event.data
    try:
        refund_apply_payment_result(
            refund_id=UUID(data["refund_id"]),
            succeeded=data["status"] == "succeeded",
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            processed_at=datetime.fromisoformat(data["processed_at"]),
            payment_transaction_id=data.get("payment_transaction_id", ""),
            failure_reason=data.get("failure_reason", ""),
            # Version 2 reports each tender; version 1 has no tenders and speaks for the whole refund.
            tenders=[
                TenderResult(
                    method=tender["method"],
                    amount=Decimal(tender["amount"]),
                    succeeded=tender["status"] == "succeeded",
                    transaction_id=tender.get("payment_transaction_id", ""),
                    failure_reason=tender.get("failure_reason", ""),
                )
                for tender in data.get("tenders", ())
            ],
            actor=Actor.of_message(eid=event.eid, metadata=event.metadata, default_producer="payment"),
        )
    except RefundNotFoundError as exc:
        # The refund may be on its way (another consumer, a lagging partition): wait a bounded time.
        raise RetryMessageLater(f"refund {data['refund_id']} does not exist (yet)") from exc
    except RefundError as exc:
        raise RejectMessage(f"{type(exc).__name__}: {exc}") from exc


def refund_processed_rule_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """The rules of payment.refund_processed v2 beyond its schema: the tenders add up to the amount,
    and status is succeeded exactly when every tender succeeded. A v1 result has no tenders.

    It runs after the schema passed, so the values have their types. Messages carry no amounts.
    """
    tenders = data.get("tenders")
    if tenders is None:
        return []
    errors = []
    if sum(Decimal(tender["amount"]) for tender in tenders) != Decimal(data["amount"]):
        errors.append(FieldError("/data/tenders", "the tenders' amounts must add up to /data/amount"))
    every_tender_succeeded = all(tender["status"] == "succeeded" for tender in tenders)
    if (data["status"] == "succeeded") != every_tender_succeeded:
        errors.append(FieldError("/data/status", "must be succeeded exactly when every tender succeeded"))
    return errors
