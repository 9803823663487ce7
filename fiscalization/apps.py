from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class FiscalizationConfig(AppConfig):
    name = "fiscalization"
    verbose_name = "Fiscal receipts"

    def ready(self) -> None:
        from refundtool.signals import refund_transitioned

        refund_transitioned.connect(receipts_on_refund_transitioned, dispatch_uid="fiscalization.receipts")


def receipts_on_refund_transitioned(sender: object, *, refund: Any, target: str, **kwargs: Any) -> None:
    """A refund that enters refunded with a receipt due gets its receipts in the same transaction."""
    from fiscalization.services import receipts_create_for_refund
    from refundtool.states import FiscalStatus, RefundStatus

    if target == RefundStatus.REFUNDED and refund.fiscal_status == FiscalStatus.PENDING:
        receipts_create_for_refund(refund=refund)
