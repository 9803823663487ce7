"""Consumer entry point for Payment's answer to item_ready_to_refund."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from events.messaging.exceptions import RejectMessage, RetryMessageLater
from events.messaging.handlers import IncomingEvent
from refundtool.exceptions import RefundError, RefundNotFoundError
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
            actor=Actor.of_message(eid=event.eid, metadata=event.metadata, default_producer="payment"),
        )
    except RefundNotFoundError as exc:
        # The refund may be on its way (another consumer, a lagging partition): wait a bounded time.
        raise RetryMessageLater(f"refund {data['refund_id']} does not exist (yet)") from exc
    except RefundError as exc:
        raise RejectMessage(f"{type(exc).__name__}: {exc}") from exc
