"""`scripts/kafka-cluster`: a 3-node Apache Kafka cluster that says when it is ready and leaves no JVM behind."""

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from django.conf import settings

from tests.support import brokers
from tests.support.processes import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCRIPT = Path(settings.BASE_DIR) / "scripts" / "kafka-cluster"


@pytest.fixture(autouse=True)
def _apache_pass_only() -> None:
    # It starts a cluster of its own whatever the session's broker; once, in the Apache Kafka pass, is enough.
    if brokers.kind() != "apache":
        pytest.skip("runs in the Apache Kafka pass (TEST_KAFKA=apache)")


def java_processes_under(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "kafka.Kafka" in cmdline and str(directory) in cmdline:
            found.append(process)
    return found


def test_three_brokers_ready_within_90_seconds_replicated_and_gone_after_sigterm(tmp_path):
    started = time.monotonic()
    process = subprocess.Popen(
        [str(SCRIPT), "--brokers", "3", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        bootstrap = process.stdout.readline().strip()
        ready_after = time.monotonic() - started
        assert bootstrap, process.stderr.read()
        assert ready_after < 90
        assert len(bootstrap.split(",")) == 3
        pids = sorted(int((tmp_path / f"broker-{i}.pid").read_text()) for i in (1, 2, 3))
        assert pids == sorted(p.pid for p in java_processes_under(tmp_path))

        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("replicated", 3)])["replicated"].result(timeout=30)
        # The broker asked may learn of the new topic a moment after the controller made it.
        wait_for(lambda: admin.list_topics("replicated", timeout=10).topics["replicated"].partitions, timeout=30)
        partitions = admin.list_topics("replicated", timeout=10).topics["replicated"].partitions
        assert {len(p.replicas) for p in partitions.values()} == {3}
        configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "replicated")])
        [config] = [future.result(timeout=10) for future in configs.values()]
        assert config["min.insync.replicas"].value == "2"
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        producer.produce("replicated", b"value")
        assert producer.flush(30) == 0

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert java_processes_under(tmp_path) == []
    assert not list(tmp_path.glob("broker-*.pid"))


def test_a_killed_launcher_takes_its_brokers_with_it(tmp_path):
    process = subprocess.Popen(
        [str(SCRIPT), "--brokers", "1", "--dir", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip()
    # The python launcher is the script's child (exec'd by bash): kill -9 it, as an OOM killer would.
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 20
    while java_processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert java_processes_under(tmp_path) == []


def test_bad_options_are_refused_with_a_message(tmp_path):
    result = subprocess.run(
        [str(SCRIPT), "--brokers", "2", "--dir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "--brokers" in result.stderr
