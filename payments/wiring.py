"""Everything payments plugs into; PaymentsConfig.ready calls connect().

What payments registers:
- events.messaging.handlers: payment.refund_processed (Payment's answer to item_ready_to_refund),
  versions 1 and 2;
- events.contracts.rules: payment.refund_processed v2's tenders add up and agree with its status.

It offers no extension points.
"""

from __future__ import annotations

from events.contracts.rules import register_business_rule
from events.messaging.handlers import register_handler
from payments.handlers import handle_refund_processed, refund_processed_rule_errors

RESULT = "payment.refund_processed"


def connect() -> None:
    register_handler(RESULT, handle_refund_processed)
    register_business_rule(RESULT, refund_processed_rule_errors)
