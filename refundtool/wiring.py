"""Everything refundtool plugs into, in one place; RefundToolConfig.ready calls connect().

What refundtool registers:
- events.contracts.rules: the refund request's business rules (the gateway and the consumer run them):
  the domain's reading of it, and that its events fit the broker's message limit;
- events.messaging.handlers: bob.refund_requested (one by one, and a batch handler for runs of
  them) and bob.refund_cancelled;
- events.messaging.hooks: a parked outbox row flags its refund (outbox_parked);
- events.monitoring: the overdue-command signal flags the refund (payment_unanswered); the stuck
  refunds' scrape collector; the refunds tiles and the refund-state and receipt-latency charts;
- a system check of REFUNDTOOL_COUNTRIES.

What refundtool offers others (extension points):
- refundtool.signals.refund_transitioned: sent inside the transaction of every transition
  (fiscalization creates receipts when a refund enters refunded);
- refundtool.receipts.register_receipt_source: where the refund page, API and reports read receipts.
"""

from __future__ import annotations

from django.core import checks

from events.contracts.rules import register_business_rule
from events.messaging.handlers import register_batch_handler, register_handler
from events.messaging.hooks import register_outbox_parked_changed
from events.monitoring.collectors import register_scrape_collector
from events.monitoring.dashboard import register_chart, register_tiles
from events.monitoring.expectations import expectation_overdue
from refundtool.checks import check_published_v1_events, check_served_countries
from refundtool.event_size import refund_request_size_errors
from refundtool.handlers import handle_refund_cancelled, handle_refund_requested, handle_refund_requested_many
from refundtool.monitoring import flag_parked_outbox_rows, flag_unanswered_payments
from refundtool.monitoring_panels import (
    receipt_latency_chart,
    refund_states_chart,
    refunds_tiles,
    stuck_refund_metrics,
)
from refundtool.validation import EVENT_TYPE, refund_request_rule_errors


def connect() -> None:
    register_business_rule(EVENT_TYPE, refund_request_rule_errors)
    register_business_rule(EVENT_TYPE, refund_request_size_errors)
    register_handler(EVENT_TYPE, handle_refund_requested)
    register_batch_handler(EVENT_TYPE, handle_refund_requested_many)
    register_handler("bob.refund_cancelled", handle_refund_cancelled)
    register_outbox_parked_changed(flag_parked_outbox_rows)
    expectation_overdue.connect(flag_unanswered_payments, dispatch_uid="refundtool.flag_unanswered_payments")
    register_scrape_collector("refunds_stuck", stuck_refund_metrics)
    register_tiles("refunds", refunds_tiles, order=10)
    register_chart("refund_states", refund_states_chart, order=10)
    register_chart("receipt_latency", receipt_latency_chart, order=20)
    checks.register(check_served_countries)
    checks.register(check_published_v1_events)
