"""Helpers of the on-call monitoring tests: refunds, responses to their commands, aged refunds."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from events.contracts.envelope import build_message
from events.messaging.handlers import IncomingEvent
from events.messaging.models import OutboxMessage
from payments.simulator import payment_result_data
from refundtool.models import Refund


def command_of(refund: Refund) -> dict[str, Any]:
    """The item_ready_to_refund message the outbox holds for the refund (its latest)."""
    commands = OutboxMessage.objects.filter(event_type="refund.item_ready_to_refund", key=refund.order_number)
    return [row.message for row in commands.order_by("id") if row.message["data"]["refund_id"] == str(refund.id)][-1]


def response_to(command: dict[str, Any], *, causation: bool = True, succeeded: bool = True) -> dict[str, Any]:
    """Payment's answer to a command, naming it by causation_id unless told not to."""
    return build_message(
        "payment.refund_processed",
        payment_result_data(command, succeeded=succeeded),
        country=command["metadata"]["country"],
        causation_id=command["metadata"]["eid"] if causation else None,
        producer="payment",
    )


def incoming(message: dict[str, Any]) -> IncomingEvent:
    return IncomingEvent(
        event_type=message["metadata"]["event_type"],
        eid=uuid.UUID(message["metadata"]["eid"]),
        metadata=message["metadata"],
        data=message["data"],
        topic="payment.refund_processed.v1",
        partition=0,
        offset=0,
        key=message["data"]["order_number"],
    )


def age(refund: Refund, *, seconds: float, now: datetime | None = None) -> Refund:
    """Makes the refund look as if it entered its state `seconds` ago."""
    changed_at = (now or timezone.now()) - timedelta(seconds=seconds)
    Refund.objects.filter(pk=refund.pk).update(status_changed_at=changed_at)
    refund.refresh_from_db()
    return refund


def staff_user(username: str = "oncall"):
    return get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")


def metric_samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
