from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class FiscalizationConfig(AppConfig):
    name = "fiscalization"
    verbose_name = "Fiscal receipts"

    def ready(self) -> None:
        from fiscalization.selectors import refund_receipt_views
        from refundtool.receipts import register_receipt_source
        from refundtool.signals import refund_transitioned

        refund_transitioned.connect(receipts_on_refund_transitioned, dispatch_uid="fiscalization.receipts")
        # The refund page, the API and reports show a refund's receipts with their attempts through it.
        register_receipt_source(refund_receipt_views)


def receipts_on_refund_transitioned(sender: object, *, refund: Any, target: str, **kwargs: Any) -> None:
    """A refund that enters refunded with a receipt due gets its receipts in the same transaction."""
    from fiscalization.services import receipts_create_for_refund
    from refundtool.states import FiscalStatus, RefundStatus

    if target == RefundStatus.REFUNDED and refund.fiscal_status == FiscalStatus.PENDING:
        receipts_create_for_refund(refund=refund)
