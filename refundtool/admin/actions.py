"""The support actions of the refund page: each one calls one service, as the acting user, with a reason.

Apps add their own with ``register_support_action`` (refundtool cannot import them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from refundtool.models import Refund
from refundtool.services import (
    RESOLUTIONS,
    Actor,
    refund_cancel,
    refund_flag_needs_attention,
    refund_resolve,
    refund_retry_fiscal,
    refund_retry_payment,
)
from refundtool.states import ActorKind, RefundStatus


@dataclass(frozen=True, slots=True)
class SupportAction:
    slug: str
    title: str
    explanation: str
    service: Callable[..., object]
    # The refund's fsm transitions this action runs; it is offered when one of them is possible now.
    # None: offered in every state but `never_from` (the service itself decides what the request becomes).
    transitions: tuple[str, ...] | None
    never_from: tuple[str, ...] = ()
    chooses_target: bool = False  # the user picks the end state among `targets` (resolve)
    # An app's action that runs no refund transition (transitions None) says when it is offered.
    offered: Callable[[Refund], bool] | None = None
    # More fields of the confirmation form, passed to the service by name (a fresh set per form).
    fields: Callable[[], dict[str, forms.Field]] | None = None
    # Their values when the form is opened, from the refund as it is then.
    initial: Callable[[Refund], dict[str, Any]] | None = None

    def targets(self, refund: Refund) -> list[str]:
        """The states this action can take the refund to from where it is now."""
        if self.offered is not None:
            return [""] if self.offered(refund) else []
        if self.transitions is None:
            return [] if refund.status in self.never_from else [""]
        possible = {
            t.name: t.target
            for t in refund.get_available_status_transitions()
            if ActorKind.USER in t.custom.get("actors", ())
        }
        return [possible[name] for name in self.transitions if name in possible]

    def is_available(self, refund: Refund) -> bool:
        return bool(self.targets(refund))

    def run(self, refund: Refund, *, username: str, values: Mapping[str, Any]) -> object:
        """Call the service with the confirmation form's cleaned `values` (reason, target, the action's fields)."""
        extra: dict[str, Any] = {"target": values["target"]} if self.chooses_target else {}
        extra |= {name: values[name] for name in (self.fields() if self.fields else {})}
        return self.service(refund_id=refund.id, reason=values["reason"], actor=Actor.user(username), **extra)


RESOLVE = SupportAction(
    "resolve",
    "Resolve",
    "Ends needs attention, payment failed or fiscal failed in a legitimate state.",
    refund_resolve,
    tuple(RESOLUTIONS.values()),
    chooses_target=True,
)
ACTIONS: dict[str, SupportAction] = {
    action.slug: action
    for action in (
        SupportAction(
            "retry-payment",
            "Retry payment",
            "Sends the refund to Payment again (item_ready_to_refund).",
            refund_retry_payment,
            ("retry_payment",),
        ),
        SupportAction(
            "retry-fiscal",
            "Retry fiscal receipt",
            "Registers the fiscal receipt again; the refund returns to refunded with the receipt pending.",
            refund_retry_fiscal,
            ("retry_receipt",),
        ),
        SupportAction(
            "cancel",
            "Cancel",
            "Cancels the refund if no payment can be in flight; otherwise it needs attention instead, "
            "because the money may already have left.",
            refund_cancel,
            None,
            never_from=(RefundStatus.CANCELLED,),
        ),
        SupportAction(
            "flag-needs-attention",
            "Mark needs attention",
            "Parks the refund for support, saying why.",
            refund_flag_needs_attention,
            ("flag_needs_attention",),
        ),
        RESOLVE,
    )
}


def register_support_action(action: SupportAction) -> None:
    """For an app that owns an action on the refund page (fiscalization: correction receipts); once per slug."""
    ACTIONS.setdefault(action.slug, action)


class ActionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=500,
        help_text="Required: written to the refund's audit trail with your username.",
    )

    def __init__(self, *args: Any, action: SupportAction, targets: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if action.fields is not None:
            self.fields.update(action.fields())
        if action.chooses_target:
            self.fields["target"] = forms.ChoiceField(
                choices=[(target, RefundStatus(target).label) for target in targets],
                widget=forms.RadioSelect,
                label="Resolve as",
            )
