"""Prometheus metrics of the fiscal SLAs (receipts and their corrections), observed by the Celery worker."""

from prometheus_client import Counter, Histogram

REFUNDED_TO_DONE_SECONDS = Histogram(
    "refundtool_fiscal_refunded_to_done_seconds",
    "Time from a refund's refunded_at (Payment's processed_at) to its receipt seen done",
    buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 1800, 3600),
)
SLA_BREACHES = Counter(
    "refundtool_fiscal_sla_breaches",
    "Receipts seen not done by their deadline (refunded_at + FISCAL_SLA_SECONDS), each counted once",
)
CORRECTION_SLA_BREACHES = Counter(
    "refundtool_fiscal_correction_sla_breaches",
    "Correction receipts seen not done by their deadline (requested_at + FISCAL_CORRECTION_SLA_SECONDS), each once",
)
