import os
import subprocess
import sys

from django.conf import settings

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    clean["DJANGO_SETTINGS_MODULE"] = "refundtool.settings"
    return subprocess.run(
        [*MANAGE, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_production_refuses_the_development_secret_key(tmp_path):
    result = run_manage("check", DJANGO_DEBUG="0", REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "refusing to start with the development key" in result.stderr


def test_check_deploy_is_clean_with_a_production_like_environment(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="p" * 20 + "-production-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="refunds.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/15",
        REFUNDTOOL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_malformed_boolean_is_a_clear_error(tmp_path):
    result = run_manage("check", DJANGO_DEBUG="maybe", REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_an_unknown_business_time_zone_is_a_clear_error(tmp_path):
    result = run_manage("check", REFUNDTOOL_BUSINESS_TIME_ZONE="Mars/Olympus", REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "REFUNDTOOL_BUSINESS_TIME_ZONE='Mars/Olympus' is not an IANA time zone" in result.stderr


def test_embedded_defaults_use_sqlite_in_wal_mode_and_the_filesystem_celery_transport(tmp_path):
    probe = (
        "from django.conf import settings; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0]);"
        "print(settings.CELERY_BROKER_URL); print(settings.KAFKA_BOOTSTRAP_SERVERS)"
    )
    result = run_manage(
        "shell", "--no-imports", "-c", probe, REFUNDTOOL_VAR_DIR=str(tmp_path), KAFKA_BOOTSTRAP_SERVERS=""
    )
    assert result.returncode == 0, result.stderr
    journal, busy_timeout, celery_broker, _ = result.stdout.split("\n")[:4]
    assert (journal, celery_broker) == ("wal", "filesystem://")
    assert int(busy_timeout) >= 5000
    assert (tmp_path / "refundtool.sqlite3").exists()
