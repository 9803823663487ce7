"""README command 1 ends in `manage.py run_all`: it must come up on embedded defaults and stop cleanly."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest
from django.conf import settings

from events.messaging.embedded_broker import free_port
from tests.support import brokers
from tests.support.ops import AUTHORIZATION_HEADER
from tests.support.processes import http_get as get

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.mark.parametrize(("local_broker", "broker_process"), [("tansu", "tansu"), ("apache", "kafka.Kafka")])
def test_run_all_serves_on_embedded_defaults_and_leaves_no_child_behind(tmp_path, local_broker, broker_process):
    # Each pass of scripts/test runs the variant of its own broker: run_all starts a broker of its own.
    if local_broker != brokers.kind():
        pytest.skip(f"runs in the {local_broker} pass")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "DJANGO_SETTINGS_MODULE"}
    }
    env["REFUNDTOOL_VAR_DIR"] = str(tmp_path)
    port = free_port()
    log = (tmp_path / "run_all.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "run_all",
            "--port",
            str(port),
            "--fiscal-emulator-port",
            str(free_port()),
            "--kafka",
            local_broker,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        status, body = 0, ""
        while time.monotonic() < deadline and process.poll() is None:
            status, body = get(f"{base}/readyz", AUTHORIZATION_HEADER)
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, (body, (tmp_path / "run_all.log").read_text()[-3000:])
        checks = __import__("json").loads(body)["checks"]
        assert {name: c["status"] for name, c in checks.items()} == {
            "database": "ok",
            "broker": "ok",
            "celery_queue": "ok",
        }
        assert get(f"{base}/healthz")[0] == 200
        login_status, login_page = get(f"{base}/admin/login/")
        assert login_status == 200
        assert 'name="username"' in login_page
        banner = (tmp_path / "run_all.log").read_text()
        assert "login      admin / admin" in banner

        descendants = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in descendants)
        for expected in (
            "refundtool.web",
            "worker",
            "beat",
            broker_process,
            "consume",
            "relay_outbox",
            "simulate_payment",
            "simulate_bob",
            "fiscal_emulator",
        ):
            assert expected in names

        # The simulators make refunds flow: BOB asks, Payment answers, receipts get registered.
        def completed() -> dict[str, int]:
            with sqlite3.connect(tmp_path / "refundtool.sqlite3", timeout=20) as db:
                return dict(
                    db.execute(
                        "SELECT country, count(*) FROM refundtool_refund WHERE status = 'completed' GROUP BY country"
                    ).fetchall()
                )

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not completed().get("RU"):
            time.sleep(1)
        assert completed().get("RU"), (completed(), (tmp_path / "run_all.log").read_text()[-3000:])

        # A child that dies is started again; the rest of the service goes on meanwhile.
        relay = next(p for p in descendants if "relay_outbox" in " ".join(p.cmdline()))
        relay.kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "relay started again" not in (tmp_path / "run_all.log").read_text():
            time.sleep(0.5)
        output = (tmp_path / "run_all.log").read_text()
        assert "relay exited with code -9; starting it again in 1 s" in output, output[-3000:]
        assert "relay started again" in output, output[-3000:]
        assert process.poll() is None
        assert get(f"{base}/readyz")[0] == 200
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert any("relay_outbox" in " ".join(p.cmdline()) for p in descendants)
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
        log.close()
    output = (tmp_path / "run_all.log").read_text()
    assert exit_code == 0, output[-3000:]
    # Each child stopped itself: the Celery worker's pool was not killed under it.
    assert "Warm shutdown" in output, output[-3000:]
    assert "exited with 'signal" not in output, output[-3000:]
    survivors = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
