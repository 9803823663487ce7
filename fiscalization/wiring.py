"""Everything fiscalization plugs into; FiscalizationConfig.ready calls connect().

What fiscalization registers:
- refundtool.signals.refund_transitioned: a refund entering refunded with a receipt due gets its
  pending receipts in the same transaction; their registration is enqueued after commit;
- refundtool.receipts: the source that shows a refund's receipts, every attempt, on the refund
  page, in the API and in reports.

It offers no extension points.
"""

from __future__ import annotations

from typing import Any

from fiscalization.selectors import refund_receipt_views
from fiscalization.services import receipts_create_for_refund
from refundtool.receipts import register_receipt_source
from refundtool.signals import refund_transitioned
from refundtool.states import FiscalStatus, RefundStatus


def receipts_on_refund_transitioned(sender: object, *, refund: Any, target: str, **kwargs: Any) -> None:
    if target == RefundStatus.REFUNDED and refund.fiscal_status == FiscalStatus.PENDING:
        receipts_create_for_refund(refund=refund)


def connect() -> None:
    refund_transitioned.connect(receipts_on_refund_transitioned, dispatch_uid="fiscalization.receipts")
    register_receipt_source(refund_receipt_views)
