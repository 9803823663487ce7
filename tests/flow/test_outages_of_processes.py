"""The Celery worker and beat, and the web process, outlive their dependencies: started while one is
down, or losing it mid-run, they wait, say so once, and resume by themselves."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest

from events.messaging.embedded_broker import EmbeddedBroker, free_port
from tests.support.ops import AUTHORIZATION_HEADER
from tests.support.processes import ServiceProcess, http_get, service_env, wait_for
from tests.support.servers import PrivatePostgres, PrivateRedis

pytestmark = pytest.mark.slow

CELERY = [sys.executable, "-m", "celery", "-A", "refundtool"]
# An outage starts with one of these lines (at start: cannot connect; mid-run: lost), each logged once.
WORKER_OUTAGE = r"consumer: (Cannot connect to|Connection to broker lost)"
BEAT_OUTAGE = r"beat: Connection error|Message Error: Couldn't apply scheduled task"
TASK_DONE = r"Task refundtool\.record_refund_states\[[-0-9a-f]+\] succeeded"


def _count(process: ServiceProcess, pattern: str) -> int:
    return len(re.findall(pattern, process.log_path.read_text(errors="replace")))


def test_worker_and_beat_wait_out_redis_down_at_start_and_mid_run_logging_once_per_outage(transactional_db, tmp_path):
    redis = PrivateRedis(tmp_path / "redis", port=free_port())  # not started: Redis is down
    env = service_env(REDIS_URL=redis.url(), REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS="1")
    worker = ServiceProcess(
        "worker", [*CELERY, "worker", "--loglevel", "INFO", "--concurrency", "1", "--queues", "default"], env, tmp_path
    ).start()
    beat = ServiceProcess(
        "beat", [*CELERY, "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")], env, tmp_path
    ).start()
    try:
        wait_for(lambda: _count(worker, WORKER_OUTAGE) and _count(beat, BEAT_OUTAGE), timeout=60, message=beat.log)
        time.sleep(12)  # several retries of each, at Celery's 2, 4, 6 s steps
        assert worker.process.poll() is None, worker.log()
        assert beat.process.poll() is None, beat.log()
        assert _count(worker, WORKER_OUTAGE) == 1, worker.log()
        assert _count(beat, BEAT_OUTAGE) == 1, beat.log()

        redis.start()
        wait_for(lambda: "the outage is over" in worker.log(), timeout=60, message=worker.log)
        wait_for(lambda: _count(beat, "the outage is over") == 1, timeout=60, message=beat.log)
        wait_for(lambda: _count(worker, TASK_DONE), timeout=60, message=lambda: worker.log() + beat.log())

        redis.stop()  # mid-run
        wait_for(lambda: _count(worker, WORKER_OUTAGE) == 2, timeout=60, message=worker.log)
        wait_for(lambda: _count(beat, BEAT_OUTAGE) == 2, timeout=60, message=beat.log)
        time.sleep(10)
        assert worker.process.poll() is None, worker.log()
        assert beat.process.poll() is None, beat.log()
        # One more line each, a second outage, and not one per retry, task or tick.
        assert _count(worker, WORKER_OUTAGE) == 2, worker.log()
        assert _count(beat, BEAT_OUTAGE) == 2, beat.log()
        done_before = _count(worker, TASK_DONE)
        redis.start()
        wait_for(lambda: _count(worker, TASK_DONE) > done_before, timeout=90, message=worker.log)
        wait_for(lambda: _count(beat, "the outage is over") == 2, timeout=60, message=beat.log)
    finally:
        for process in (beat, worker):
            assert process.stop() == 0, process.log()
        redis.stop()


def test_the_web_process_starts_without_its_dependencies_and_readyz_names_the_missing_ones(tmp_path):
    # A cluster of its own, to stop: under a directory the unprivileged postgres user may enter.
    scratch = Path(tempfile.mkdtemp(prefix="refundtool-web-outage-"))
    os.chmod(scratch, 0o755)  # noqa: S103 - the postgres user must reach its directory inside
    postgres = PrivatePostgres(scratch, port=free_port())  # none of the three is started
    redis = PrivateRedis(tmp_path / "redis", port=free_port())
    broker = EmbeddedBroker(port=free_port())
    port = free_port()
    env = service_env(
        DATABASE_URL=postgres.url(), REDIS_URL=redis.url(), KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers
    )
    web = ServiceProcess(
        "web", [sys.executable, "-m", "refundtool.web", "--port", str(port), "--workers", "1"], env, tmp_path
    ).start()
    base = f"http://127.0.0.1:{port}"

    def ready(credential: bool = True) -> tuple[int, dict]:
        status, body = http_get(f"{base}/readyz", AUTHORIZATION_HEADER if credential else {})
        return status, orjson.loads(body)

    def failing() -> set[str]:
        return {name for name, check in ready()[1]["checks"].items() if check["status"] != "ok"}

    try:
        wait_for(lambda: http_get(f"{base}/healthz")[0] == 200, timeout=60, message=web.log)
        assert ready(credential=False) == (503, {"status": "unavailable"})
        assert failing() == {"database", "redis", "broker"}

        postgres.start()
        redis.start()
        broker.start()
        wait_for(lambda: ready()[0] == 200, timeout=90, message=lambda: str(ready()) + web.log())

        postgres.stop()  # mid-run
        wait_for(lambda: failing() == {"database"}, timeout=30, message=lambda: str(ready()))
        assert web.process.poll() is None, web.log()
        postgres.start()
        wait_for(lambda: ready()[0] == 200, timeout=60, message=lambda: str(ready()) + web.log())
    finally:
        assert web.stop() == 0, web.log()
        broker.stop()
        redis.stop()
        postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)
