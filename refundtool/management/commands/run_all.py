"""Runs the whole service on one machine: the README's first command ends here.

It starts a local broker when KAFKA_BOOTSTRAP_SERVERS is not set (tansu, the fast start, or with
`--kafka apache` an Apache Kafka cluster of `--kafka-brokers` nodes keeping its data in
var/kafka), migrates, removes the metric
files an earlier run left in PROMETHEUS_MULTIPROC_DIR, makes sure a development admin exists, then
supervises web, Celery worker and beat, and every long-running
management command of the service that exists (consumers, outbox relay, simulators, fiscal
emulator). Each child runs in its own process group, so a stop takes its grandchildren too.
SIGINT or SIGTERM stops everything. A child that exits on its own is started again after a capped,
jittered backoff (1 s, doubling up to 30 s; back to 1 s once it has run for a minute), as a
supervisor would: one crashing process must not take the whole service down. Only the local broker
exiting stops everything, since its data went with it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.apache_kafka import ApacheKafkaCluster, ClusterError, kafka_version
from events.messaging.embedded_broker import EmbeddedBroker, port_is_free
from events.messaging.topics import topics_ensure
from events.monitoring.multiprocess import clear_stale_files

DEV_ADMIN_USERNAME = "admin"
DEV_ADMIN_PASSWORD = "admin"  # noqa: S105 - printed on purpose: a local development login
STOP_GRACE_SECONDS = 15
RESTART_BACKOFF_MAX_SECONDS = 30.0
RESTART_BACKOFF_RESET_SECONDS = 60.0  # a child that ran this long starts over at the shortest wait


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]
    requires_command: str | None = None


class Command(BaseCommand):
    help = "Run web, consumers, relay, Celery worker and beat, simulators and the embedded broker together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
        parser.add_argument("--fiscal-emulator-port", type=int, default=8081)
        parser.add_argument("--no-simulators", action="store_true", help="do not start the BOB and Payment simulators")
        parser.add_argument(
            "--kafka",
            choices=["tansu", "apache"],
            default="tansu",
            help="the local broker, when KAFKA_BOOTSTRAP_SERVERS is not set: tansu (default) or Apache Kafka",
        )
        parser.add_argument(
            "--kafka-brokers", type=int, choices=[1, 3], default=1, help="with --kafka apache: nodes in the cluster"
        )

    def handle(self, *args: object, **options: object) -> None:
        self.stopping = False
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.broker: EmbeddedBroker | ApacheKafkaCluster | None = None
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
        if not port_is_free(host, port):
            raise CommandError(f"{host}:{port} is already in use; pick another with --port")
        env = dict(os.environ)
        try:
            if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
                self.broker = self._start_broker(str(options["kafka"]), int(options["kafka_brokers"]))  # type: ignore[call-overload]
                env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
                settings.KAFKA_BOOTSTRAP_SERVERS = self.broker.bootstrap_servers
                # Topics are replicated as far as the local cluster allows, whatever the environment says.
                replicas = min(3, len(self.broker.nodes)) if isinstance(self.broker, ApacheKafkaCluster) else 1
                env["KAFKA_REPLICATION_FACTOR"] = str(replicas)
                settings.KAFKA_REPLICATION_FACTOR = replicas
            call_command("migrate", interactive=False, verbosity=0)
            topics_ensure()
            # Every child writes its metrics there (the settings export the directory to them).
            clear_stale_files(settings.PROMETHEUS_MULTIPROC_DIR)
            self._ensure_dev_admin()
            if "FISCAL_PROVIDER_URL" not in os.environ:
                # The worker talks to the emulator run_all starts, on whichever port it was given.
                env["FISCAL_PROVIDER_URL"] = f"http://127.0.0.1:{options['fiscal_emulator_port']}/possystem/v5"
            self.env = env
            self.specs = {child.name: child for child in self._children(host, port, options)}
            for child in self.specs.values():
                self._spawn(child)
            self._print_banner(host, port, options)
            self._supervise()
        finally:
            self._stop_all()

    def _start_broker(self, kind: str, nodes: int) -> EmbeddedBroker | ApacheKafkaCluster:
        host, port = settings.EMBEDDED_KAFKA_BOOTSTRAP.rsplit(":", 1)
        if kind == "apache":
            # Fixed ports when they are free (9092 and up, controllers 9192 and up), as with tansu.
            wanted = [int(port) + i for i in range(nodes)] + [int(port) + 100 + i for i in range(nodes)]
            first = int(port) if all(port_is_free(host, p) for p in wanted) else 0
            self.stdout.write(
                f"starting Apache Kafka ({nodes} broker(s)), data in {settings.REFUNDTOOL_VAR_DIR / 'kafka'}"
            )
            self.stdout.flush()
            try:
                return ApacheKafkaCluster(settings.REFUNDTOOL_VAR_DIR / "kafka", brokers=nodes, port=first).start()
            except ClusterError as exc:
                raise CommandError(str(exc)) from exc
        broker = EmbeddedBroker(host=host, port=int(port) if port_is_free(host, int(port)) else 0)
        return broker.start()

    def _ensure_dev_admin(self) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username=DEV_ADMIN_USERNAME).exists():
            user_model.objects.create_superuser(DEV_ADMIN_USERNAME, "admin@example.com", DEV_ADMIN_PASSWORD)

    def _children(self, host: str, port: int, options: dict[str, object]) -> list[Child]:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        celery = [sys.executable, "-m", "celery", "-A", "refundtool"]
        wanted = [
            Child(
                "web",
                [sys.executable, "-m", "refundtool.web", "--host", host, "--port", str(port), "--access-log"],
            ),
            Child(
                "worker", [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--queues", "default,fiscal"]
            ),
            Child(
                "beat",
                [*celery, "beat", "--loglevel", "INFO", "--schedule", str(settings.REFUNDTOOL_VAR_DIR / "celerybeat")],
            ),
            Child("consumer", [*manage, "consume"], requires_command="consume"),
            Child("relay", [*manage, "relay_outbox"], requires_command="relay_outbox"),
            Child(
                "fiscal-emulator",
                [*manage, "fiscal_emulator", "--port", str(options["fiscal_emulator_port"])],
                requires_command="fiscal_emulator",
            ),
        ]
        if not options["no_simulators"]:
            wanted += [
                Child("payment-simulator", [*manage, "simulate_payment"], requires_command="simulate_payment"),
                Child(
                    "bob-simulator",
                    [*manage, "simulate_bob", "--refunds", "1000000", "--rate", "1"],
                    requires_command="simulate_bob",
                ),
            ]
        available = get_commands()
        return [c for c in wanted if c.requires_command is None or c.requires_command in available]

    def _print_banner(self, host: str, port: int, options: dict[str, object]) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "Refund Tool is running. Ctrl-C (or SIGTERM) stops everything.",
            f"  web        {base}/   admin {base}/admin/   health {base}/healthz  {base}/readyz",
            f"  login      {DEV_ADMIN_USERNAME} / {DEV_ADMIN_PASSWORD}",
            f"  database   {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
            f" {settings.DATABASES['default']['NAME']}",
            f"  kafka      {settings.KAFKA_BOOTSTRAP_SERVERS}" + self._broker_label(),
            f"  celery     {settings.CELERY_BROKER_URL if settings.REDIS_URL else 'filesystem transport'}",
        ]
        if "fiscal-emulator" in self.children:
            lines.append(f"  fiscal     http://127.0.0.1:{options['fiscal_emulator_port']}/ (ATOL-style emulator)")
        lines.append("  processes  " + ", ".join(f"{name} (pid {p.pid})" for name, p in self.children.items()))
        self.stdout.write("\n".join(lines), ending="\n")
        self.stdout.flush()

    def _broker_label(self) -> str:
        if isinstance(self.broker, ApacheKafkaCluster):
            return f" (local Apache Kafka {kafka_version()}, {len(self.broker.nodes)} broker(s))"
        return " (embedded tansu)" if self.broker else ""

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _spawn(self, child: Child) -> None:
        self.children[child.name] = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        self.started_at[child.name] = time.monotonic()

    def _supervise(self) -> None:
        backoff: dict[str, float] = {}
        restart_at: dict[str, float] = {}
        while not self.stopping:
            now = time.monotonic()
            for name, process in self.children.items():
                if name in restart_at or process.poll() is None:
                    continue
                _signal_group(process, signal.SIGKILL)  # what it started dies with it
                lived = now - self.started_at[name]
                wait = (
                    1.0
                    if lived > RESTART_BACKOFF_RESET_SECONDS
                    else min(RESTART_BACKOFF_MAX_SECONDS, backoff.get(name, 0.5) * 2)
                )
                backoff[name] = wait
                restart_at[name] = now + random.uniform(wait / 2, wait)
                self.stderr.write(f"{name} exited with code {process.returncode}; starting it again in {wait:.0f} s")
            for name in [name for name, when in restart_at.items() if when <= now]:
                del restart_at[name]
                self._spawn(self.specs[name])
                self.stdout.write(f"{name} started again (pid {self.children[name].pid})")
                self.stdout.flush()
            if self.broker and not self.broker.running:
                self.stderr.write("the local broker exited; stopping everything")
                return
            time.sleep(0.2)

    def _stop_all(self) -> None:
        # SIGTERM to each child alone, not its group: a Celery worker or the web server then stops
        # its own pool gracefully, letting tasks and requests in flight finish. Signalled directly,
        # Celery's pool processes would die mid-task.
        for process in self.children.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # Grandchildren (web and celery workers) may outlive their parent by a moment.
            _signal_group(process, signal.SIGKILL)
        if self.broker:
            self.broker.stop()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
