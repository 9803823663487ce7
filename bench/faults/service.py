"""The service under test: its own PostgreSQL cluster, Redis and broker, and the service's processes
under a supervisor that restarts whatever exits and counts the exits nobody caused."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from events.messaging.apache_kafka import ApacheKafkaCluster
from events.messaging.embedded_broker import EmbeddedBroker, free_port
from tests.support.servers import PrivatePostgres, PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
CELERY = [sys.executable, "-m", "celery", "-A", "refundtool"]
DATABASE = "refundtool"
# The largest record: small, so that a record too large for it costs little to build and send.
MAX_MESSAGE_BYTES = 100_000
# A supervisor (systemd, Kubernetes) starts a dead process again after about this long.
RESTART_DELAY_SECONDS = 1.0
STOP_GRACE_SECONDS = 15.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # Set by whoever stops or kills it on purpose: that exit is not counted.
    expected_exit: bool = False
    restart_at: float | None = None


@dataclass
class Exit:
    phase: str
    name: str
    returncode: int


class Supervisor:
    """Starts each child in its own process group, restarts one that exits, and counts the unexpected exits.

    A kill takes the whole group, as a container's death would: a Celery worker's pool goes with it.
    """

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.children: dict[str, Child] = {}
        self.exits: list[Exit] = []
        self.phase = "start"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self, children: dict[str, list[str]]) -> None:
        for name, argv in children.items():
            child = Child(name, argv, self.log_dir / f"{name}.log")
            self._spawn(child)
            self.children[name] = child
        self._thread.start()

    def exits_in(self, phase: str) -> int:
        return sum(1 for e in self.exits if e.phase == phase)

    def kill(self, name: str) -> None:
        """kill -9 of the child's process group; the supervisor starts it again."""
        process = self._expect_exit(name)
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def restart(self, name: str) -> None:
        """A graceful restart (SIGTERM, as a deployment does); returns once the new process runs."""
        child = self.children[name]
        process = self._expect_exit(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"faults: {name} did not stop within {STOP_GRACE_SECONDS:.0f}s of SIGTERM; killed", flush=True)
            _signal_group(process, signal.SIGKILL)
            process.wait()
        while child.process is process:
            time.sleep(0.1)

    def _expect_exit(self, name: str) -> subprocess.Popen[bytes]:
        """The child's process, whose coming exit is ours and not counted."""
        child = self.children[name]
        with self._lock:
            child.expected_exit = True
            process = child.process
        assert process is not None
        return process

    def _spawn(self, child: Child) -> None:
        with child.log_path.open("ab") as log:
            child.process = subprocess.Popen(
                child.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        child.expected_exit = False
        child.restart_at = None

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                for child in self.children.values():
                    self._check(child)

    def _check(self, child: Child) -> None:
        process = child.process
        if process is None or process.poll() is None:
            return
        now = time.monotonic()
        if child.restart_at is None:
            _signal_group(process, signal.SIGKILL)  # what it started dies with it
            if not child.expected_exit:
                self.exits.append(Exit(self.phase, child.name, process.returncode))
                print(f"faults: {child.name} exited by itself (code {process.returncode}) in {self.phase}", flush=True)
            child.restart_at = now + RESTART_DELAY_SECONDS
        elif now >= child.restart_at:
            self._spawn(child)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        # SIGTERM to the main process only: a Celery worker then stops its own pool.
        running = [c.process for c in self.children.values() if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for child in self.children.values():
            if child.process is not None:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@dataclass
class Infrastructure:
    """PostgreSQL (durable, stopped and started again on the same port), Redis and a broker of the run's own."""

    kafka: str
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-faults-")))
    postgres: PrivatePostgres = field(init=False)
    redis: PrivateRedis = field(init=False)
    broker: EmbeddedBroker | ApacheKafkaCluster | None = None

    def __post_init__(self) -> None:
        os.chmod(self.scratch, 0o755)  # noqa: S103 - the postgres user must reach its directory inside
        self.postgres = PrivatePostgres(self.scratch / "postgres", durable=True)
        self.redis = PrivateRedis(self.scratch / "redis")

    def start(self) -> None:
        import psycopg

        self.postgres.start()
        with psycopg.connect(self.postgres.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
        self.redis.start()
        if self.kafka == "apache":
            self.broker = ApacheKafkaCluster(self.scratch / "kafka", brokers=3).start()
        else:
            self.broker = EmbeddedBroker().start()

    @property
    def broker_pids(self) -> list[int]:
        if isinstance(self.broker, ApacheKafkaCluster):
            return [node.process.pid for node in self.broker.nodes if node.process is not None]
        assert self.broker is not None
        assert self.broker.process is not None
        return [self.broker.process.pid]

    def env(self) -> dict[str, str]:
        """What every process of the service gets; the short fiscal timings make lost tasks come back in seconds."""
        assert self.broker is not None
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "refundtool.settings",
            "DJANGO_DEBUG": "1",  # the emulator over http, a short consumer session timeout
            "DATABASE_URL": self.postgres.url(DATABASE),
            "REDIS_URL": self.redis.url(),
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "KAFKA_REPLICATION_FACTOR": "3" if self.kafka == "apache" else "1",
            "REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
            "FISCAL_PROVIDER_URL": f"http://127.0.0.1:{self.emulator_port}/possystem/v5",
            "FISCAL_POLL_INTERVAL_SECONDS": "0.3",
            "FISCAL_HTTP_TIMEOUT_SECONDS": "2",
            "FISCAL_RETRY_BACKOFF_MAX_SECONDS": "3",
            "FISCAL_LOST_TASK_SECONDS": "3",
            "FISCAL_SWEEP_INTERVAL_SECONDS": "2",
            "FISCAL_REPORT_UNKNOWN_SECONDS": "5",
            "REFUNDTOOL_VAR_DIR": str(self.scratch / "var"),
            "PYTHONUNBUFFERED": "1",
        }

    @functools.cached_property
    def emulator_port(self) -> int:
        return free_port()

    def children(self) -> dict[str, list[str]]:
        return {
            "consumer": [*MANAGE, "consume"],
            "relay": [*MANAGE, "relay_outbox"],
            "payment": [*MANAGE, "simulate_payment", "--fail-rate", "0", "--latency-ms", "0"],
            "worker": [*CELERY, "worker", "--loglevel", "INFO", "--pool", "threads", "--concurrency", "4",
                       "--queues", "default,fiscal", "--without-gossip", "--without-mingle"],
            "beat": [*CELERY, "beat", "--loglevel", "INFO", "--schedule", str(self.scratch / "var" / "celerybeat")],
            "fiscal-emulator": [*MANAGE, "fiscal_emulator", "--port", str(self.emulator_port),
                                "--done-after-ms", "200"],
        }  # fmt: skip

    def stop(self) -> None:
        if self.broker is not None:
            for pid in self.broker_pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)  # a broker stopped mid-fault must be able to exit
            self.broker.stop()
        self.redis.stop()
        self.postgres.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)
