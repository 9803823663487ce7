from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from events.handlers import register_batch_handler, register_handler
from events.rules import register_business_rule
from refundtool.countries import COUNTRIES
from refundtool.validation import EVENT_TYPE, refund_request_rule_errors


class RefundToolConfig(AppConfig):
    name = "refundtool"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from events.expectations import expectation_overdue
        from events.monitoring.collectors import register_scrape_collector
        from events.monitoring.dashboard import register_chart, register_tiles
        from refundtool.handlers import (
            handle_refund_cancelled,
            handle_refund_requested,
            handle_refund_requested_many,
        )
        from refundtool.monitoring import flag_unanswered_payments
        from refundtool.monitoring_panels import (
            receipt_latency_chart,
            refund_states_chart,
            refunds_tiles,
            stuck_refund_metrics,
        )

        # The gateway and the consumers run it for every bob.refund_requested, after the schema.
        register_business_rule(EVENT_TYPE, refund_request_rule_errors)
        register_handler(EVENT_TYPE, handle_refund_requested)
        register_batch_handler(EVENT_TYPE, handle_refund_requested_many)
        register_handler("bob.refund_cancelled", handle_refund_cancelled)
        checks.register(check_served_countries)
        # On-call monitoring: refunds react to overdue Payment commands, and show on /metrics and the page.
        expectation_overdue.connect(flag_unanswered_payments, dispatch_uid="refundtool.flag_unanswered_payments")
        register_scrape_collector("refunds_stuck", stuck_refund_metrics)
        register_tiles("refunds", refunds_tiles, order=10)
        register_chart("refund_states", refund_states_chart, order=10)
        register_chart("receipt_latency", receipt_latency_chart, order=20)


def check_served_countries(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every country in REFUNDTOOL_COUNTRIES must be in the country table."""
    unknown = [code for code in settings.REFUNDTOOL_COUNTRIES if code not in COUNTRIES]
    if not unknown:
        return []
    return [
        checks.Error(
            f"REFUNDTOOL_COUNTRIES names {', '.join(unknown)}, which refundtool.countries does not know",
            hint=f"Known countries: {', '.join(COUNTRIES)}. Add the country to COUNTRIES before serving it.",
            id="refundtool.E001",
        )
    ]
