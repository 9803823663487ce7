"""Logging: one console handler, text or JSON, with personal data masked in every record."""

from __future__ import annotations

from refundtool.settings.base import DEBUG
from refundtool.settings.env import env_str

REFUNDTOOL_LOG_LEVEL = env_str("REFUNDTOOL_LOG_LEVEL", "INFO").upper()
REFUNDTOOL_LOG_FORMAT = env_str("REFUNDTOOL_LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_pii": {"()": "refundtool.logging.MaskPersonalDataFilter"},
        "once_per_outage": {"()": "refundtool.outage_logs.OncePerOutage"},
        "gateway_client_errors_at_info": {"()": "events.gateway.log_filters.GatewayClientErrorsAtInfo"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": REFUNDTOOL_LOG_FORMAT,
            "filters": ["mask_pii", "once_per_outage"],
        },
    },
    "root": {"handlers": ["console"], "level": REFUNDTOOL_LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["gateway_client_errors_at_info"]},
    },
}
