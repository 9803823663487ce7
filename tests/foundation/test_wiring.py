"""What each app registers with the others, as its wiring module lists it, is what is registered."""

import weakref

from events.contracts.rules import registered_business_rules
from events.messaging import hooks
from events.messaging.handlers import batch_handler_for, handled_event_types, handler_for
from events.monitoring.collectors import registered_scrape_collectors
from events.monitoring.dashboard import registered_panels
from events.monitoring.expectations import expectation_overdue, expectations_answer, expectations_open
from fiscalization.selectors import refund_receipt_views
from fiscalization.wiring import receipts_on_refund_transitioned
from payments.handlers import handle_refund_processed, refund_processed_rule_errors
from refundtool import handlers as refund_handlers
from refundtool.event_size import refund_request_size_errors
from refundtool.monitoring import flag_unanswered_payments
from refundtool.receipts import registered_receipt_sources
from refundtool.signals import refund_transitioned
from refundtool.validation import refund_request_rule_errors


def test_every_consumed_event_type_has_the_handler_of_its_owner():
    assert handled_event_types() == ["bob.refund_cancelled", "bob.refund_requested", "payment.refund_processed"]
    assert handler_for("bob.refund_requested") is refund_handlers.handle_refund_requested
    assert batch_handler_for("bob.refund_requested") is refund_handlers.handle_refund_requested_many
    assert handler_for("bob.refund_cancelled") is refund_handlers.handle_refund_cancelled
    assert handler_for("payment.refund_processed") is handle_refund_processed


def test_business_rules_are_the_refund_requests_own():
    assert registered_business_rules() == {
        "bob.refund_requested": [refund_request_rule_errors, refund_request_size_errors],
        "payment.refund_processed": [refund_processed_rule_errors],
    }


def test_monitoring_works_inside_the_runtimes_transactions_through_its_hooks():
    assert hooks.registered() == {
        "outbox_written": [f"{expectations_open.__module__}.{expectations_open.__qualname__}"],
        "events_applied": [f"{expectations_answer.__module__}.{expectations_answer.__qualname__}"],
        "outbox_parked_changed": ["refundtool.monitoring.flag_parked_outbox_rows"],
    }


def receivers_of(signal) -> list:
    return [ref() if isinstance(ref, weakref.ref) else ref for _, ref, _ in signal.receivers]


def test_signals_reach_their_receivers():
    # Reaching refunded creates the 54-FZ receipts in the same transaction.
    assert receivers_of(refund_transitioned) == [receipts_on_refund_transitioned]
    assert receivers_of(expectation_overdue) == [flag_unanswered_payments]


def test_receipts_come_from_fiscalization():
    assert registered_receipt_sources() == [refund_receipt_views]


def test_metrics_and_the_monitoring_page():
    assert sorted(registered_scrape_collectors()) == ["consumer_lag", "flags", "outbox", "refunds_stuck", "responses"]
    assert registered_panels() == {
        "tiles": ["refunds", "fiscal_corrections", "events"],
        "charts": ["refund_states", "receipt_latency", "consumer_lag", "responses"],
    }


def test_fiscalization_offers_the_correction_receipt_action_on_the_refund_page():
    from fiscalization.wiring import CORRECTION_ACTION
    from refundtool.admin.actions import ACTIONS

    assert ACTIONS["correction-receipt"] is CORRECTION_ACTION
