"""Celery entry points of the refund domain: periodic checks for on-call.

No retries: beat runs the next pass within REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS, which is the retry.
"""

from __future__ import annotations

from celery import shared_task

from refundtool.monitoring import refund_flags_refresh, refund_states_record


@shared_task(name="refundtool.flag_stuck_refunds", max_retries=0)
def flag_stuck_refunds() -> dict[str, int]:
    result = refund_flags_refresh()
    return {"raised": result.raised, "cleared": result.cleared}


@shared_task(name="refundtool.record_refund_states", max_retries=0)
def record_refund_states() -> int:
    return len(refund_states_record())
