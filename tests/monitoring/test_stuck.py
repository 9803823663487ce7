"""Stuck refunds: a maximum age per state, a beat task that flags them, a metric, one shared definition."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import timezone

from events.messaging.models import OutboxMessage
from events.monitoring.flags import flags_of, flags_open
from refundtool.models import Refund, RefundTransition
from refundtool.monitoring import refund_flags_refresh
from refundtool.selectors import (
    refund_flags,
    refund_is_stuck,
    refunds_flagged_filter,
    refunds_stuck,
    refunds_stuck_counts,
)
from refundtool.services import refund_apply_payment_result
from refundtool.tasks import flag_stuck_refunds
from tests.domain.factories import new_refund, payment
from tests.monitoring.helpers import age, metric_samples
from tests.support.processes import wait_for

READY_LIMIT = settings.REFUNDTOOL_STUCK_AFTER_SECONDS["ready_to_refund"]


def pay(refund: Refund) -> Refund:
    return refund_apply_payment_result(
        refund_id=refund.id,
        succeeded=True,
        amount=refund.amount,
        currency=refund.currency,
        processed_at=timezone.now(),
        payment_transaction_id=f"txn-{refund.id.hex[:8]}",
        actor=payment(),
    )


def open_stuck_flags() -> dict[str, str]:
    return dict(
        flags_open(subject_type="refund").filter(kind__startswith="stuck_in_").values_list("subject_id", "kind")
    )


@pytest.mark.django_db(transaction=True)
def test_a_refund_left_in_a_state_past_its_maximum_age_is_flagged_by_the_beat_task(celery_worker, ops_client):
    stuck = age(new_refund("KZ"), seconds=READY_LIMIT + 60)
    fresh = age(new_refund("KZ"), seconds=READY_LIMIT - 60)
    done = age(pay(new_refund("KZ")), seconds=10 * 86400)  # completed: never stuck
    assert done.status == "completed"
    events_before, transitions_before = OutboxMessage.objects.count(), RefundTransition.objects.count()

    assert settings.CELERY_BEAT_SCHEDULE["flag-stuck-refunds"]["task"] == flag_stuck_refunds.name
    flag_stuck_refunds.delay()
    wait_for(lambda: open_stuck_flags(), timeout=20, message="the worker flagged nothing")

    assert open_stuck_flags() == {str(stuck.id): "stuck_in_ready_to_refund"}
    [flag] = flags_of(subject_type="refund", subject_id=str(stuck.id))
    assert f"longer than its limit of {READY_LIMIT} s" in flag.detail
    # A flag, not a state change: no transition, no event, nothing for support to undo.
    assert Refund.objects.get(pk=stuck.pk).status == "ready_to_refund"
    assert (OutboxMessage.objects.count(), RefundTransition.objects.count()) == (events_before, transitions_before)
    assert {r.id for r in refunds_stuck(now=timezone.now())} == {stuck.id}
    assert not refund_is_stuck(fresh, now=timezone.now())

    samples = metric_samples(ops_client.get("/metrics").content.decode())
    assert samples[("refundtool_refunds_stuck", (("state", "ready_to_refund"),))] == 1
    assert samples[("refundtool_refunds_stuck", (("state", "refunded"),))] == 0
    assert samples[("refundtool_flags_open", (("kind", "stuck_in_ready_to_refund"), ("subject_type", "refund")))] == 1


@pytest.mark.django_db
def test_a_flag_is_raised_once_and_cleared_when_the_refund_moves_on():
    refund = age(new_refund("RU"), seconds=READY_LIMIT + 1)
    assert refund_flags_refresh().raised == 1
    assert refund_flags_refresh().raised == 0
    pay(refund)  # refunded in RU: awaiting its receipt, just now
    assert refund_flags_refresh().cleared == 1
    [flag] = flags_of(subject_type="refund", subject_id=str(refund.id))
    assert flag.cleared_at is not None
    assert flag.clear_reason == "no longer ready_to_refund past its limit"

    # Awaiting the receipt past the fiscal SLA is "stuck in refunded": a new flag of its own kind.
    age(refund, seconds=settings.FISCAL_SLA_SECONDS + 1)
    assert refund_flags_refresh().raised == 1
    assert open_stuck_flags() == {str(refund.id): "stuck_in_refunded"}
    assert [f.kind for f in flags_of(subject_type="refund", subject_id=str(refund.id))] == [
        "stuck_in_refunded",
        "stuck_in_ready_to_refund",
    ]


@pytest.mark.django_db
def test_counts_per_state_follow_the_settings():
    now = timezone.now()
    age(new_refund("KZ"), seconds=120, now=now)
    with override_settings(REFUNDTOOL_STUCK_AFTER_SECONDS={"ready_to_refund": 60, "refunded": 300}):
        assert refunds_stuck_counts(now=now) == {"ready_to_refund": 1, "refunded": 0}
    with override_settings(REFUNDTOOL_STUCK_AFTER_SECONDS={"ready_to_refund": 600}):
        assert refunds_stuck_counts(now=now) == {"ready_to_refund": 0}


def test_the_defaults_follow_the_issue_and_refunded_is_the_fiscal_sla():
    limits = settings.STUCK_AFTER_SECONDS_DEFAULTS
    assert (limits["requested"], limits["ready_to_refund"]) == (300, 1800)
    assert limits["refunded"] == settings.FISCAL_SLA_SECONDS
    assert "completed" not in limits
    assert "cancelled" not in limits


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REFUNDTOOL_"))}
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "check"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "refundtool.settings", "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("shipped=60", "'shipped=60' is not name=seconds (seconds >= 1) with a name of"),
        ("ready_to_refund=soon", "'ready_to_refund=soon' is not name=seconds"),
        ("ready_to_refund=0", "'ready_to_refund=0' is not name=seconds"),
    ],
    ids=["unknown state", "not a number", "zero"],
)
def test_a_bad_stuck_limit_stops_the_process_with_a_clear_error(value, message, tmp_path):
    result = _check(REFUNDTOOL_STUCK_AFTER_SECONDS=value, REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert message in result.stderr


def test_a_response_timeout_for_something_that_is_not_a_command_fails_the_checks():
    with (
        override_settings(REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS={"refund.update": 5}),
        pytest.raises(SystemCheckError, match=r"monitoring.E001.*refund.update"),
    ):
        call_command("check")


@pytest.mark.django_db
def test_the_admin_can_filter_flagged_refunds_and_show_a_refunds_flags():
    stuck, fine = age(new_refund("KZ"), seconds=READY_LIMIT + 1), new_refund("KZ")
    refund_flags_refresh()
    assert list(Refund.objects.filter(refunds_flagged_filter())) == [stuck]
    assert [flag.kind for flag in refund_flags(refund_id=stuck.id)] == ["stuck_in_ready_to_refund"]
    assert not refund_flags(refund_id=fine.id).exists()
