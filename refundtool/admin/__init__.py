"""Support admin: the refund changelist and page, the audited support actions and the reports page."""

from refundtool.admin.refunds import RefundAdmin

__all__ = ["RefundAdmin"]
