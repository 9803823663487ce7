"""54-FZ fiscal receipts: the ATOL Online v5-style provider and the receipts' timing.

The defaults point at `manage.py fiscal_emulator` on port 8081. FISCAL_SLA_SECONDS is in base.py,
where the stuck-refund check reads it too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from refundtool.settings.base import DEBUG
from refundtool.settings.env import env_bool, env_float, env_int, env_str

EMULATOR_LOGIN = EMULATOR_PASSWORD = "refundtool"  # noqa: S105 - the emulator's, refused in production below

FISCAL_PROVIDER_URL = env_str("FISCAL_PROVIDER_URL", "http://127.0.0.1:8081/possystem/v5")
FISCAL_LOGIN = env_str("FISCAL_LOGIN", EMULATOR_LOGIN)
FISCAL_PASSWORD = env_str("FISCAL_PASSWORD", EMULATOR_PASSWORD)
# The login and the receipts (customers' contacts) travel to the provider: plain http only where
# the operator says the network is private.
FISCAL_ALLOW_HTTP = env_bool("FISCAL_ALLOW_HTTP", False)
if not DEBUG:
    if EMULATOR_LOGIN in (FISCAL_LOGIN, FISCAL_PASSWORD):
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off but FISCAL_LOGIN or FISCAL_PASSWORD is the emulator's default: "
            "set the fiscal provider's credentials."
        )
    _scheme = urlsplit(FISCAL_PROVIDER_URL).scheme
    if _scheme != "https" and not (_scheme == "http" and FISCAL_ALLOW_HTTP):
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off but FISCAL_PROVIDER_URL is not an https URL "
            "(set FISCAL_ALLOW_HTTP=1 to allow http on an internal network)."
        )
FISCAL_GROUP_CODE = env_str("FISCAL_GROUP_CODE", "refundtool-ru_1")
FISCAL_COMPANY_INN = env_str("FISCAL_COMPANY_INN", "7700000001")
FISCAL_COMPANY_SNO = env_str("FISCAL_COMPANY_SNO", "osn")
FISCAL_COMPANY_EMAIL = env_str("FISCAL_COMPANY_EMAIL", "receipts@refundtool.example")
FISCAL_COMPANY_PAYMENT_ADDRESS = env_str("FISCAL_COMPANY_PAYMENT_ADDRESS", "https://shop.refundtool.example")
FISCAL_HTTP_TIMEOUT_SECONDS = env_int("FISCAL_HTTP_TIMEOUT_SECONDS", 10)
FISCAL_TOKEN_TTL_SECONDS = env_int("FISCAL_TOKEN_TTL_SECONDS", 86400)
FISCAL_POLL_INTERVAL_SECONDS = env_float("FISCAL_POLL_INTERVAL_SECONDS", 0.5)
# A receipt whose report stays "no state" (code 34) this long after registration is registered again
# under its external_id: the provider lost it.
FISCAL_REPORT_UNKNOWN_SECONDS = env_int("FISCAL_REPORT_UNKNOWN_SECONDS", 30)
FISCAL_RETRY_BACKOFF_MAX_SECONDS = env_int("FISCAL_RETRY_BACKOFF_MAX_SECONDS", 30)
FISCAL_LOST_TASK_SECONDS = env_int("FISCAL_LOST_TASK_SECONDS", 30)
# A correction is asked for by support after the fact, with no customer waiting: its own, longer SLA.
FISCAL_CORRECTION_SLA_SECONDS = env_int("FISCAL_CORRECTION_SLA_SECONDS", 600)
FISCAL_SWEEP_INTERVAL_SECONDS = env_float("FISCAL_SWEEP_INTERVAL_SECONDS", 30.0)
FISCAL_DELIVERY_VAT_RATE = env_str("FISCAL_DELIVERY_VAT_RATE", "22")
