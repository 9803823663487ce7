"""Everything payments plugs into; PaymentsConfig.ready calls connect().

What payments registers:
- events.messaging.handlers: payment.refund_processed (Payment's answer to item_ready_to_refund).

It offers no extension points.
"""

from __future__ import annotations

from events.messaging.handlers import register_handler
from payments.handlers import handle_refund_processed


def connect() -> None:
    register_handler("payment.refund_processed", handle_refund_processed)
