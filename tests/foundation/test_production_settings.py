"""Production by default: DEBUG off unless asked for, and a production start that lacks a secret refuses."""

import sys
import uuid

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from refundtool.error_reports import ReporterFilter
from tests.foundation.test_settings import run_manage

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "p" * 20 + "-production-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "refunds.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "FISCAL_PROVIDER_URL": "https://online.atol.example/possystem/v5",
    "FISCAL_LOGIN": "shop-login",
    "FISCAL_PASSWORD": "shop-password-from-the-provider",
}


def test_check_deploy_is_clean_with_a_production_like_environment(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_when_the_variable_is_not_set(tmp_path):
    env = {name: value for name, value in PRODUCTION.items() if name != "DJANGO_DEBUG"}
    probe = "from django.conf import settings; print(settings.DEBUG, settings.SECURE_SSL_REDIRECT)"
    result = run_manage("shell", "--no-imports", "-c", probe, **env, REFUNDTOOL_VAR_DIR=str(tmp_path), DJANGO_DEBUG="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_scripts_run_turns_debug_on_for_a_development_run():
    assert 'export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"' in (settings.BASE_DIR / "scripts" / "run").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set: refusing to start with the development key"),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS is empty"),
        ({"FISCAL_LOGIN": ""}, "FISCAL_LOGIN or FISCAL_PASSWORD is the emulator's default"),
        ({"FISCAL_PASSWORD": ""}, "FISCAL_LOGIN or FISCAL_PASSWORD is the emulator's default"),
        ({"FISCAL_PROVIDER_URL": ""}, "FISCAL_PROVIDER_URL is not an https URL"),
        ({"FISCAL_PROVIDER_URL": "http://atol.internal/possystem/v5"}, "set FISCAL_ALLOW_HTTP=1"),
        (
            {"FISCAL_PROVIDER_URL": "ftp://atol.internal/possystem/v5", "FISCAL_ALLOW_HTTP": "1"},
            "FISCAL_PROVIDER_URL is not an https URL",
        ),
    ],
)
def test_production_refuses_to_start_without_its_secrets(tmp_path, change, message):
    # An empty value is an unset variable: the settings fall back to their development defaults.
    env = {**PRODUCTION, **change}
    for name in [name for name, value in change.items() if not value]:
        env.pop(name)
    result = run_manage("check", **env, REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert message in result.stderr


def test_plain_http_to_the_fiscal_provider_when_the_operator_allows_it(tmp_path):
    env = {**PRODUCTION, "FISCAL_PROVIDER_URL": "http://atol.internal/possystem/v5", "FISCAL_ALLOW_HTTP": "1"}
    result = run_manage("check", **env, REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def _debug_page(request: HttpRequest) -> str:
    # Raised and caught here, so the page's traceback holds no frame of the test's (and its secret).
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


def test_the_debug_page_hides_connection_strings_in_settings_and_the_environment():
    # Made at run time: the page also shows this test's source, which must not contain it.
    secret = uuid.uuid4().hex
    urls = {
        "DATABASE_URL": f"postgres://refundtool:{secret}@db.internal:5432/refundtool",
        "REDIS_URL": f"redis://:{secret}@redis.internal:6379/0",
        "CELERY_BROKER_URL": f"redis://:{secret}@redis.internal:6379/0",
        "SENTRY_DSN": f"https://{secret}@sentry.internal/1",
    }
    cache = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": urls["REDIS_URL"]}}
    # The development server copies the process environment into request.META.
    request = RequestFactory().get("/admin/", **urls)
    with override_settings(**urls, CACHES=cache):
        assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == "refundtool.error_reports.ReporterFilter"
        page = _debug_page(request)
        safe = ReporterFilter().get_safe_settings()
    assert "boom" in page
    assert secret not in page
    assert {safe[name] for name in urls} == {ReporterFilter.cleansed_substitute}
    assert safe["CACHES"]["default"]["LOCATION"] == ReporterFilter.cleansed_substitute
