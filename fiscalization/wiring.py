"""Everything fiscalization plugs into; FiscalizationConfig.ready calls connect().

What fiscalization registers:
- refundtool.signals.refund_transitioned: a refund entering refunded with a receipt due gets its
  pending receipts in the same transaction; their registration is enqueued after commit;
- refundtool.receipts: the source that shows a refund's receipts, every attempt, on the refund
  page, in the API and in reports.

- refundtool.receipts.register_corrections_source: the corrected refunds, for the reconciliation;
- refundtool.admin.actions: the support action "Register a correction receipt" on the refund page;
- events.monitoring: the correction receipts' tiles.

It offers no extension points.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from events.monitoring.dashboard import register_tiles
from fiscalization.models import CorrectionType
from fiscalization.monitoring import correction_tiles
from fiscalization.selectors import correction_next_seq, correction_refusal, refund_corrections, refund_receipt_views
from fiscalization.services import correction_receipt_request, receipts_create_for_refund
from refundtool.admin.actions import SupportAction, register_support_action
from refundtool.receipts import register_corrections_source, register_receipt_source
from refundtool.signals import refund_transitioned
from refundtool.states import FiscalStatus, RefundStatus


def receipts_on_refund_transitioned(sender: object, *, refund: Any, target: str, **kwargs: Any) -> None:
    if target == RefundStatus.REFUNDED and refund.fiscal_status == FiscalStatus.PENDING:
        receipts_create_for_refund(refund=refund)


def correction_form_fields() -> dict[str, forms.Field]:
    return {
        "correction_type": forms.ChoiceField(
            choices=CorrectionType.choices, widget=forms.RadioSelect, label="Correction (tag 1173)"
        ),
        "base_date": forms.DateField(
            label="Base document's date", help_text="YYYY-MM-DD: the act, or the tax office's instruction"
        ),
        "base_number": forms.CharField(
            label="Base document's number", max_length=32, required=False, help_text="Required for an instruction."
        ),
        # The correction this form asks for: sent twice, or after another one, it is refused.
        "seq": forms.IntegerField(widget=forms.HiddenInput, min_value=1),
    }


CORRECTION_ACTION = SupportAction(
    "correction-receipt",
    "Register a correction receipt",
    "Registers a sell_refund_correction receipt of the whole refund with the provider, for a receipt "
    "that was wrong or failed past its SLA. A refund whose receipt failed completes once it is done.",
    correction_receipt_request,
    None,
    offered=lambda refund: correction_refusal(refund, now=timezone.now()) is None,
    fields=correction_form_fields,
    initial=lambda refund: {"seq": correction_next_seq(refund)},
)


def connect() -> None:
    refund_transitioned.connect(receipts_on_refund_transitioned, dispatch_uid="fiscalization.receipts")
    register_receipt_source(refund_receipt_views)
    register_corrections_source(refund_corrections)
    register_support_action(CORRECTION_ACTION)
    register_tiles("fiscal_corrections", correction_tiles, order=20)
