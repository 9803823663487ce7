"""Django itself, the database, the cache, the domain's settings, static files and security."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from events.monitoring.multiprocess import use_multiprocess_directory
from refundtool.settings.env import env_bool, env_int, env_list, env_rate, env_seconds_by_name, env_str

BASE_DIR = Path(__file__).resolve().parents[2]
REFUNDTOOL_VAR_DIR = Path(env_str("REFUNDTOOL_VAR_DIR", str(BASE_DIR / "var")))

DEVELOPMENT_SECRET_KEY = "refundtool-development-only-secret-key-do-not-use-in-production"  # noqa: S105

# Production unless told otherwise: a deployment that forgets the variable must not serve debug pages.
# scripts/run and the tests turn it on.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_SECRET_KEY is not set: refusing to start with the development key."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_ALLOWED_HOSTS is empty: set it to the host names the service answers to."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "knox",
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
    # Answers a locked-out admin login (django-axes) with its 429 page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "refundtool.urls"
DEFAULT_EXCEPTION_REPORTER_FILTER = "refundtool.error_reports.ReporterFilter"
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
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": REFUNDTOOL_VAR_DIR / "refundtool.sqlite3",
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

# --- Cache (Redis, or files shared by every local process) ---------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"serializer": "refundtool.cache.JsonSerializer"},
    }
    if REDIS_URL
    # The fiscal token lives in the cache: every local process must see it, without a server.
    else {"BACKEND": "refundtool.cache.JsonFileBasedCache", "LOCATION": REFUNDTOOL_VAR_DIR / "cache"}
}

# --- Metrics (/metrics) -----------------------------------------------------------------------
# Every process writes its metrics to files here and /metrics adds them up. prometheus_client must
# be in multiprocess mode before any app creates a metric, and the settings are what every process
# reads first: the one thing reading the settings does (it also makes the folder).
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", "") or REFUNDTOOL_VAR_DIR / "prometheus")
use_multiprocess_directory(PROMETHEUS_MULTIPROC_DIR)

# --- Domain ---------------------------------------------------------------------------------
REFUNDTOOL_COUNTRIES = [c.upper() for c in env_list("REFUNDTOOL_COUNTRIES", "RU,KZ,BY,UA")]
REFUNDTOOL_BUSINESS_TIME_ZONE = env_str("REFUNDTOOL_BUSINESS_TIME_ZONE", "Europe/Moscow")
try:
    ZoneInfo(REFUNDTOOL_BUSINESS_TIME_ZONE)
except (ValueError, ZoneInfoNotFoundError) as _exc:
    raise ImproperlyConfigured(
        f"REFUNDTOOL_BUSINESS_TIME_ZONE={REFUNDTOOL_BUSINESS_TIME_ZONE!r} is not an IANA time zone like Europe/Moscow"
    ) from _exc
# How long an admin page waits for the Kafka broker (dead letters) before it shows an error instead.
REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS = env_int("REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS", 3)
# The receipt SLA, here because the stuck check below uses it (fiscal.py has the rest of 54-FZ).
FISCAL_SLA_SECONDS = env_int("FISCAL_SLA_SECONDS", 120)
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

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(REFUNDTOOL_VAR_DIR / "static")))
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

# --- Accounts -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts failed logins (admin) and refuses a username from an address after too many.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
# The pair, so a stranger cannot lock a colleague out from elsewhere, nor one address lock everyone out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner from every process; failed logins and lockouts are still logged

# --- REST framework -------------------------------------------------------------------------
# API tokens (django-rest-knox): only a SHA-512 of each token is stored, and each expires.
REFUNDTOOL_API_TOKEN_TTL_DAYS = env_int("REFUNDTOOL_API_TOKEN_TTL_DAYS", 90, minimum=1)
REST_KNOX = {"TOKEN_TTL": timedelta(days=REFUNDTOOL_API_TOKEN_TTL_DAYS), "AUTH_HEADER_PREFIX": "Token"}
# Requests per credential (token, else user): "N/second|minute|hour|day"; reports cost far more.
REFUNDTOOL_API_RATE = env_rate("REFUNDTOOL_API_RATE", "600/minute")
REFUNDTOOL_API_REPORT_RATE = env_rate("REFUNDTOOL_API_REPORT_RATE", "30/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["refundtool.api.throttling.CredentialRateThrottle"],
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
