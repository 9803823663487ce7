"""Settings for Refund Tool, read from the environment.

Every variable is documented in README.md ("Settings"). With no variable set the service runs on
embedded defaults: a SQLite file under ``var/``, the bundled Kafka-protocol broker on
127.0.0.1:9092 and Celery over kombu's filesystem transport. PostgreSQL, Kafka and Redis are used
exactly when ``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` name them.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from events.monitoring.multiprocess import use_multiprocess_directory

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REFUNDTOOL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_seconds_by_name(name: str, defaults: dict[str, int], *, allowed: set[str] | None = None) -> dict[str, int]:
    """`defaults` with the "name=seconds,name=seconds" pairs of the variable on top."""
    result = dict(defaults)
    for part in env_list(name, ""):
        key, _, seconds = (item.strip() for item in part.partition("="))
        if (allowed is not None and key not in allowed) or not key or not seconds.isdigit() or int(seconds) < 1:
            names = f" with a name of {', '.join(sorted(allowed))}" if allowed is not None else ""
            raise ImproperlyConfigured(f"{name}: {part!r} is not name=seconds (seconds >= 1){names}")
        result[key] = int(seconds)
    return result


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


DEVELOPMENT_SECRET_KEY = "refundtool-development-only-secret-key-do-not-use-in-production"  # noqa: S105

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_SECRET_KEY is not set: refusing to start with the development key."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rangefilter",
    "django_prometheus",
    "events",
    "events.monitoring",
    "refundtool",
    "payments",
    "fiscalization",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "refundtool.admin.timezone.BusinessTimeZoneMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "refundtool.urls"
WSGI_APPLICATION = "refundtool.wsgi.application"
ASGI_APPLICATION = "refundtool.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "refundtool.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # WAL lets the web process read while a consumer writes; IMMEDIATE takes the write
                # lock at BEGIN so two writers queue on the busy timeout instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery --------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # A cache shared by every local process (the fiscal token lives there), without a server.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }
    CELERY_QUEUE_DIR = VAR_DIR / "celery"
    for _folder in ("in", "processed", "control"):
        (CELERY_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "in"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "in"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {}

# --- Kafka ----------------------------------------------------------------------------------
EMBEDDED_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", EMBEDDED_KAFKA_BOOTSTRAP)
# Extra librdkafka settings (SASL, TLS) as "key=value;key=value".
KAFKA_CLIENT_CONFIG = dict(
    item.split("=", 1) for item in os.environ.get("KAFKA_CLIENT_CONFIG", "").split(";") if "=" in item
)
# tansu assigns a new group only after half the session timeout; 6 s keeps local start-up quick.
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 6000 if DEBUG else 45000)
# The name the lag endpoints and gauges give this cluster (Burrow's "cluster").
KAFKA_CLUSTER_NAME = os.environ.get("KAFKA_CLUSTER_NAME", "local")

# --- Consumer lag (Burrow's rules) ----------------------------------------------------------
LAG_SAMPLE_INTERVAL_SECONDS = env_int("LAG_SAMPLE_INTERVAL_SECONDS", 10)
LAG_WINDOW_SAMPLES = env_int("LAG_WINDOW_SAMPLES", 10)
if LAG_SAMPLE_INTERVAL_SECONDS < 1:
    raise ImproperlyConfigured(f"LAG_SAMPLE_INTERVAL_SECONDS={LAG_SAMPLE_INTERVAL_SECONDS} must be at least 1")
if LAG_WINDOW_SAMPLES < 2:
    raise ImproperlyConfigured(f"LAG_WINDOW_SAMPLES={LAG_WINDOW_SAMPLES} must be at least 2")
CELERY_BEAT_SCHEDULE["sample-consumer-lag"] = {
    "task": "events.sample_consumer_lag",
    "schedule": float(LAG_SAMPLE_INTERVAL_SECONDS),
    # A pass queued behind a stopped worker is stale by the next one.
    "options": {"expires": LAG_SAMPLE_INTERVAL_SECONDS},
}

KAFKA_TOPIC_PARTITIONS = env_int("KAFKA_TOPIC_PARTITIONS", 6)
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1 if DEBUG else 3)

# --- Metrics (/metrics) -----------------------------------------------------------------------
# Every process writes its metrics to files here and /metrics adds them up; set before any app
# creates a metric. run_all removes the files an earlier run left.
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or VAR_DIR / "prometheus")
use_multiprocess_directory(PROMETHEUS_MULTIPROC_DIR)

# --- Events-bus gateway --------------------------------------------------------------------
EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS = env_int("EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS", 10000)
# How long a request's events may wait to go out with those of other requests of the process
# (events.gateway.publisher); a request alone in its process sends at once.
EVENTS_GATEWAY_LINGER_MS = env_int("EVENTS_GATEWAY_LINGER_MS", 3)
EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = env_int("EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS", 5)

# --- Event runtime --------------------------------------------------------------------------
CONSUMER_GROUP = os.environ.get("REFUNDTOOL_CONSUMER_GROUP", "refundtool")
CONSUMER_BATCH_SIZE = env_int("REFUNDTOOL_CONSUMER_BATCH_SIZE", 500)
# How long a message whose handler asks to retry (e.g. a payment result before its refund) may wait.
CONSUMER_RETRY_WINDOW_SECONDS = env_int("REFUNDTOOL_CONSUMER_RETRY_WINDOW_SECONDS", 60)
# Attempts of a handler that raises an unexpected error before the message is dead-lettered.
CONSUMER_HANDLER_ATTEMPTS = env_int("REFUNDTOOL_CONSUMER_HANDLER_ATTEMPTS", 3)
# Consumed events stay in the inbox this long (redeliveries after that find the effect itself
# idempotent: refunds by refund_request_id, payment results by their content); then beat deletes them.
INBOX_RETENTION_HOURS = env_int("REFUNDTOOL_INBOX_RETENTION_HOURS", 336)
if INBOX_RETENTION_HOURS < 1:
    raise ImproperlyConfigured("REFUNDTOOL_INBOX_RETENTION_HOURS must be at least 1")
CELERY_BEAT_SCHEDULE["prune-inbox"] = {"task": "events.prune_inbox", "schedule": 3600.0, "options": {"expires": 3600}}
OUTBOX_BATCH_SIZE = env_int("REFUNDTOOL_OUTBOX_BATCH_SIZE", 500)
OUTBOX_RETENTION_HOURS = env_int("REFUNDTOOL_OUTBOX_RETENTION_HOURS", 72)
# On SQLite there is no LISTEN/NOTIFY: the relay polls this often.
OUTBOX_POLL_INTERVAL_MS = env_int("REFUNDTOOL_OUTBOX_POLL_INTERVAL_MS", 100)
# Fault injection for crash tests: the relay sleeps this long between publishing and marking.
OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS = env_int("REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS", 0)

# --- Domain ---------------------------------------------------------------------------------
REFUNDTOOL_COUNTRIES = [c.upper() for c in env_list("REFUNDTOOL_COUNTRIES", "RU,KZ,BY,UA")]
BUSINESS_TIME_ZONE = os.environ.get("REFUNDTOOL_BUSINESS_TIME_ZONE", "Europe/Moscow")
try:
    ZoneInfo(BUSINESS_TIME_ZONE)
except (ValueError, ZoneInfoNotFoundError) as _exc:
    raise ImproperlyConfigured(
        f"REFUNDTOOL_BUSINESS_TIME_ZONE={BUSINESS_TIME_ZONE!r} is not an IANA time zone like Europe/Moscow"
    ) from _exc

# --- Support admin and reports --------------------------------------------------------------
# A refund's maximum age per state (REFUNDTOOL_STUCK_AFTER_SECONDS) is under "On-call monitoring", below.
# How long an admin page waits for the Kafka broker (dead letters) before it shows an error instead.
ADMIN_BROKER_TIMEOUT_SECONDS = env_int("REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS", 3)

# --- Fiscal receipts (54-FZ) -------------------------------------------------------------------
# The ATOL Online v5-style provider; the defaults point at `manage.py fiscal_emulator` on port 8081.
FISCAL_PROVIDER_URL = os.environ.get("FISCAL_PROVIDER_URL", "http://127.0.0.1:8081/possystem/v5")
FISCAL_LOGIN = os.environ.get("FISCAL_LOGIN", "refundtool")
FISCAL_PASSWORD = os.environ.get("FISCAL_PASSWORD", "refundtool")
FISCAL_GROUP_CODE = os.environ.get("FISCAL_GROUP_CODE", "refundtool-ru_1")
FISCAL_COMPANY_INN = os.environ.get("FISCAL_COMPANY_INN", "7700000001")
FISCAL_COMPANY_SNO = os.environ.get("FISCAL_COMPANY_SNO", "osn")
FISCAL_COMPANY_EMAIL = os.environ.get("FISCAL_COMPANY_EMAIL", "receipts@refundtool.example")
FISCAL_COMPANY_PAYMENT_ADDRESS = os.environ.get("FISCAL_COMPANY_PAYMENT_ADDRESS", "https://shop.refundtool.example")
FISCAL_SLA_SECONDS = env_int("FISCAL_SLA_SECONDS", 120)
FISCAL_HTTP_TIMEOUT_SECONDS = env_int("FISCAL_HTTP_TIMEOUT_SECONDS", 10)
FISCAL_TOKEN_TTL_SECONDS = env_int("FISCAL_TOKEN_TTL_SECONDS", 86400)
FISCAL_POLL_INTERVAL_SECONDS = env_float("FISCAL_POLL_INTERVAL_SECONDS", 0.5)
FISCAL_RETRY_BACKOFF_MAX_SECONDS = env_int("FISCAL_RETRY_BACKOFF_MAX_SECONDS", 30)
FISCAL_LOST_TASK_SECONDS = env_int("FISCAL_LOST_TASK_SECONDS", 30)
FISCAL_SWEEP_INTERVAL_SECONDS = env_float("FISCAL_SWEEP_INTERVAL_SECONDS", 30.0)
FISCAL_DELIVERY_VAT_RATE = os.environ.get("FISCAL_DELIVERY_VAT_RATE", "22")
CELERY_TASK_ROUTES["fiscalization.*"] = {"queue": "fiscal"}
CELERY_BEAT_SCHEDULE["fiscal-sweep"] = {
    "task": "fiscalization.sweep_receipts",
    "schedule": FISCAL_SWEEP_INTERVAL_SECONDS,
}

# --- On-call monitoring: unanswered commands, stuck refunds, history -----------------------------
# A command's response is due within its spec's timeout; "refund.item_ready_to_refund=60" overrides it.
RESPONSE_TIMEOUT_SECONDS = env_seconds_by_name("REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS", {})
RESPONSE_CHECK_INTERVAL_SECONDS = env_int("REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS", 30)
# The periodic check compares commands sent with responses received over this window.
RESPONSE_WINDOW_SECONDS = env_int("REFUNDTOOL_RESPONSE_WINDOW_SECONDS", 300)
RESPONSE_EXPECTATION_RETENTION_HOURS = env_int("REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS", 168)
# A refund is stuck when it stays in a state longer than this; "ready_to_refund=600,refunded=300"
# overrides single states. Completed and cancelled refunds are never stuck.
STUCK_AFTER_SECONDS_DEFAULTS = {
    "requested": 300,  # the creating transaction moves it on at once: seeing one at all is wrong
    "ready_to_refund": 1800,  # Payment answers within the command's timeout (900 s) and then some
    "refunded": FISCAL_SLA_SECONDS,  # awaiting the fiscal receipt: stuck exactly when the SLA breaks
    "payment_failed": 86400,  # support retries or resolves within a working day
    "fiscal_failed": 3600,
    "needs_attention": 86400,
}
REFUNDTOOL_STUCK_AFTER_SECONDS = env_seconds_by_name(
    "REFUNDTOOL_STUCK_AFTER_SECONDS", STUCK_AFTER_SECONDS_DEFAULTS, allowed=set(STUCK_AFTER_SECONDS_DEFAULTS)
)
# How often the stuck check, the refund-state history and the lag history run, and how long history is kept.
MONITORING_SAMPLE_INTERVAL_SECONDS = env_int("REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS", 60)
MONITORING_HISTORY_HOURS = env_int("REFUNDTOOL_MONITORING_HISTORY_HOURS", 48)
for _name, _value in [
    ("REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS", RESPONSE_CHECK_INTERVAL_SECONDS),
    ("REFUNDTOOL_RESPONSE_WINDOW_SECONDS", RESPONSE_WINDOW_SECONDS),
    ("REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS", RESPONSE_EXPECTATION_RETENTION_HOURS),
    ("REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS", MONITORING_SAMPLE_INTERVAL_SECONDS),
    ("REFUNDTOOL_MONITORING_HISTORY_HOURS", MONITORING_HISTORY_HOURS),
]:
    if _value < 1:
        raise ImproperlyConfigured(f"{_name}={_value} must be at least 1")
# Each check is stale by the time the next one is due, so a queued one expires then.
CELERY_BEAT_SCHEDULE["check-response-expectations"] = {
    "task": "events.check_response_expectations",
    "schedule": float(RESPONSE_CHECK_INTERVAL_SECONDS),
    "options": {"expires": RESPONSE_CHECK_INTERVAL_SECONDS},
}
for _task, _entry in [
    ("refundtool.flag_stuck_refunds", "flag-stuck-refunds"),
    ("refundtool.record_refund_states", "record-refund-states"),
    ("events.record_lag_history", "record-lag-history"),
]:
    CELERY_BEAT_SCHEDULE[_entry] = {
        "task": _task,
        "schedule": float(MONITORING_SAMPLE_INTERVAL_SECONDS),
        "options": {"expires": MONITORING_SAMPLE_INTERVAL_SECONDS},
    }

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production) ------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "refundtool.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Refund Tool API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: the docs work without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # status, and a history row's source and target, are one enum in the schema.
    "ENUM_NAME_OVERRIDES": {"RefundStatus": "refundtool.states.RefundStatus"},
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("REFUNDTOOL_LOG_LEVEL", "INFO").upper()
LOG_FORMAT = os.environ.get("REFUNDTOOL_LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_pii": {"()": "refundtool.logging.MaskPersonalDataFilter"},
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
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["mask_pii"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["gateway_client_errors_at_info"]},
    },
}
