"""Support admin: the refund changelist and page, the audited support actions, the reports page and API tokens."""

from refundtool.admin.refunds import RefundAdmin
from refundtool.admin.tokens import ApiTokenAdmin

__all__ = ["ApiTokenAdmin", "RefundAdmin"]
