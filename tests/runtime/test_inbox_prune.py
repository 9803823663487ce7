"""Pruning the inbox: old rows go, recent ones and the rows after a recent straggler stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from events.messaging.inbox import inbox_prune
from events.messaging.models import InboxMessage
from events.messaging.tasks import prune_inbox

pytestmark = pytest.mark.django_db


def _received(*ages_in_hours: float) -> list[int]:
    now = timezone.now()
    rows = [
        InboxMessage.objects.create(
            eid=uuid.uuid4(),
            group="refundtool",
            event_type="bob.refund_requested",
            topic="bob.refund_requested.v1",
            partition=0,
            offset=index,
            key=f"ORDER-{index}",
            message={"metadata": {}, "data": {}},
            received_at=now - timedelta(hours=age),
        )
        for index, age in enumerate(ages_in_hours)
    ]
    return [row.id for row in rows]


def test_rows_received_before_the_cutoff_are_deleted_in_chunks():
    old = _received(*[500] * 7)
    recent = _received(2, 1)

    assert inbox_prune(received_before=timezone.now() - timedelta(hours=336), chunk_size=3) == 7

    assert set(InboxMessage.objects.values_list("id", flat=True)) == set(recent)
    assert not InboxMessage.objects.filter(id__in=old).exists()


def test_a_recent_straggler_keeps_the_rows_after_it_for_a_later_pass():
    _first, straggler, after = _received(500, 1, 500)

    assert inbox_prune(received_before=timezone.now() - timedelta(hours=336), chunk_size=1) == 1

    assert list(InboxMessage.objects.order_by("id").values_list("id", flat=True)) == [straggler, after]


@override_settings(REFUNDTOOL_INBOX_RETENTION_HOURS=24)
def test_the_beat_task_prunes_with_the_retention_setting():
    _received(25, 23)

    assert prune_inbox() == 1
    assert InboxMessage.objects.count() == 1
