import os
import re
import subprocess
import sys

from django.conf import settings

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    clean["DJANGO_SETTINGS_MODULE"] = "refundtool.settings"
    return subprocess.run(
        [*MANAGE, *args],
        env={**clean, "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_malformed_boolean_is_a_clear_error(tmp_path):
    result = run_manage("check", DJANGO_DEBUG="maybe", REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_an_unknown_business_time_zone_is_a_clear_error(tmp_path):
    result = run_manage("check", REFUNDTOOL_BUSINESS_TIME_ZONE="Mars/Olympus", REFUNDTOOL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "REFUNDTOOL_BUSINESS_TIME_ZONE='Mars/Olympus' is not an IANA time zone" in result.stderr


def test_a_misspelt_event_in_publish_v1_events_stops_every_command(tmp_path):
    """A typo would otherwise stop version 1 of refund.update for readers that still need it."""
    result = run_manage(
        "check",
        REFUNDTOOL_PUBLISH_V1_EVENTS="refund.updates,refund.item_ready_to_refund",
        REFUNDTOOL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "(refundtool.E002) REFUNDTOOL_PUBLISH_V1_EVENTS names refund.updates," in result.stderr
    assert "Name some of: refund.item_ready_to_refund, refund.update;" in result.stderr


def test_publish_v1_events_may_name_both_events_or_none(tmp_path):
    for value in ("refund.item_ready_to_refund,refund.update", ""):
        result = run_manage("check", REFUNDTOOL_PUBLISH_V1_EVENTS=value, REFUNDTOOL_VAR_DIR=str(tmp_path))
        assert result.returncode == 0, (value, result.stderr)


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


SETTINGS_DIR = settings.BASE_DIR / "refundtool" / "settings"
READ = re.compile(r"^(\w+)(?::[^=]*)? = env_\w+\(\s*\"(\w+)\"", re.M)


def test_each_setting_of_ours_is_named_as_its_variable_and_documented():
    readme = (settings.BASE_DIR / "README.md").read_text()
    pairs = [pair for path in sorted(SETTINGS_DIR.glob("*.py")) for pair in READ.findall(path.read_text())]
    assert len(pairs) > 40
    for name, variable in pairs:
        if not variable.startswith("DJANGO_"):  # Django's own settings keep Django's names
            assert name == variable, f"settings.{name} reads {variable}"
        assert f"`{variable}`" in readme, f"{variable} is not in README's Settings"


def test_reading_the_settings_writes_nothing(tmp_path):
    var_dir = tmp_path / "var"
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.REFUNDTOOL_VAR_DIR)"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "refundtool.settings",
            "REFUNDTOOL_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(var_dir)
    assert not var_dir.exists()


def test_the_app_makes_its_local_folders_when_it_starts(tmp_path):
    result = run_manage("check", REFUNDTOOL_VAR_DIR=str(tmp_path / "var"))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "var").iterdir()} >= {"cache", "celery", "static"}
    assert {p.name for p in (tmp_path / "var" / "celery").iterdir()} == {"in", "processed", "control"}


def test_every_beat_entry_runs_a_task_that_exists():
    from refundtool.celery import app

    app.loader.import_default_modules()
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)
    assert len(settings.CELERY_BEAT_SCHEDULE) == 7
