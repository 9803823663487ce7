"""A local Apache Kafka cluster (KRaft, 1 or 3 combined broker+controller nodes) on loopback.

This is what production runs, started from Maven Central jars: `scripts/kafka/pom.xml` pins the
version, `mvn dependency:copy-dependencies` fetches the broker and its runtime dependencies once into
a cache outside the source tree (`REFUNDTOOL_KAFKA_CACHE`, default ~/.cache/refundtool), and each
node runs as `java -cp '<jars>/*' kafka.Kafka <properties>` after `kafka.tools.StorageTool` formats
its directory.

    python -m events.messaging.apache_kafka --brokers 3 --dir DIR      (scripts/kafka-cluster)

prints the bootstrap servers as the first line of stdout once every broker is registered and a
topic can be created and written, writes `DIR/broker-<id>.pid`, and stops every JVM on SIGTERM or
SIGINT. With 3 brokers topics default to replication factor 3 and `min.insync.replicas` 2.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from events.messaging.embedded_broker import free_port

HOST = "127.0.0.1"
KAFKA_DIR = Path(__file__).resolve().parents[2] / "scripts" / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG_CONFIG = KAFKA_DIR / "log4j2.properties"
READY_TOPIC = "__refundtool_ready"
HEAP = os.environ.get("REFUNDTOOL_KAFKA_HEAP", "512m")

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster could not be fetched or started; the message says why."""


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise ClusterError(f"{POM} names no <kafka.version>")
    return match.group(1)


def broker_settings(brokers: int) -> dict[str, str]:
    """The settings that make a cluster of `brokers` nodes durable: docker-compose.yml uses them too."""
    replicas = min(brokers, 3)
    min_isr = 2 if replicas >= 3 else 1
    return {
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
    }


def _cache_dir() -> Path:
    base = os.environ.get("REFUNDTOOL_KAFKA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "refundtool"
    )
    return Path(base) / f"kafka-{kafka_version()}"


def kafka_jars() -> Path:
    """The directory of the broker's jars, fetched with Maven on first use (one process at a time)."""
    cache = _cache_dir()
    jars = cache / "jars"
    done = cache / ".complete"
    if done.exists():
        return jars
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return jars
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ClusterError("Maven (mvn) is needed to fetch Apache Kafka's jars: apt-get install maven")
        print(f"apache-kafka: fetching Apache Kafka {kafka_version()} jars into {jars}", file=sys.stderr, flush=True)
        shutil.rmtree(jars, ignore_errors=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
             f"-DoutputDirectory={jars}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode:
            raise ClusterError(f"mvn could not fetch Apache Kafka's jars:\n{(result.stdout + result.stderr)[-3000:]}")
        done.touch()
    return jars


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise ClusterError("Java 17 or newer is needed to run Apache Kafka (apt-get install openjdk-17-jre-headless)")
    return java


def _die_with_parent() -> None:
    # A broker must not outlive its launcher, even one killed with SIGKILL: no JVM is left behind.
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ApacheKafkaCluster:
    """`brokers` combined nodes under `directory`; ports are free loopback ports unless `port` is given.

    With `port`, node i listens on port + i - 1 for clients and port + 100 + i - 1 for the controller
    quorum. `advertised_ports` lets a test put a proxy in front of each node.
    """

    directory: Path
    brokers: int = 1
    port: int = 0
    partitions: int = 6
    advertised_ports: list[int] | None = None
    nodes: list[Node] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.brokers < 1:
            raise ClusterError("a cluster needs at least one broker")
        self.directory = Path(self.directory).resolve()
        self.nodes = [
            Node(
                node_id=i,
                port=self.port + i - 1 if self.port else free_port(HOST),
                controller_port=self.port + 100 + i - 1 if self.port else free_port(HOST),
            )
            for i in range(1, self.brokers + 1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{port}" for port in self._advertised())

    def _advertised(self) -> list[int]:
        return self.advertised_ports or [node.port for node in self.nodes]

    @property
    def running(self) -> bool:
        """Every node is up."""
        return bool(self.nodes) and all(node.running for node in self.nodes)

    def node(self, node_id: int) -> Node:
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self, timeout: float = 90.0) -> ApacheKafkaCluster:
        jars = kafka_jars()
        java = _java()
        self.directory.mkdir(parents=True, exist_ok=True)
        cluster_id = _cluster_id()
        for node in self.nodes:
            self._write_properties(node)
            self._format(java, jars, node, cluster_id)
        try:
            for node in self.nodes:
                self._launch(java, jars, node)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_dir(self, node: Node) -> Path:
        return self.directory / f"broker-{node.node_id}"

    def _properties_path(self, node: Node) -> Path:
        return self.directory / f"broker-{node.node_id}.properties"

    def _write_properties(self, node: Node) -> None:
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes)
        advertised = self._advertised()[node.node_id - 1]
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{advertised}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self._node_dir(node) / "data"),
            "num.partitions": str(self.partitions),
            # A local cluster: fewer offsets partitions and threads than a production broker's
            # defaults, so three JVMs start quickly on two cores.
            "offsets.topic.num.partitions": "10",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.check.interval.ms": "60000",
            **broker_settings(self.brokers),
        }
        self._properties_path(node).write_text("".join(f"{key}={value}\n" for key, value in settings.items()))

    def _jvm(self, java: str, jars: Path, main: str) -> list[str]:
        return [
            java,
            f"-Xmx{HEAP}",
            "-Xms64m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp",
            f"{jars}/*",
            main,
        ]

    def _format(self, java: str, jars: Path, node: Node, cluster_id: str) -> None:
        if (self._node_dir(node) / "data" / "meta.properties").exists():
            return
        result = subprocess.run(
            [*self._jvm(java, jars, "kafka.tools.StorageTool"), "format", "--config",
             str(self._properties_path(node)), f"--cluster-id={cluster_id}", "--ignore-formatted"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode:
            raise ClusterError(f"formatting broker {node.node_id} failed:\n{(result.stdout + result.stderr)[-3000:]}")

    def _launch(self, java: str, jars: Path, node: Node) -> None:
        log = open(self.directory / f"broker-{node.node_id}.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            node.process = subprocess.Popen(
                [*self._jvm(java, jars, "kafka.Kafka"), str(self._properties_path(node))],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        (self.directory / f"broker-{node.node_id}.pid").write_text(f"{node.process.pid}\n")

    def wait_ready(self, timeout: float) -> None:
        """Returns once every broker is registered and a replicated topic takes a write with acks=all."""
        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        while True:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise ClusterError(
                        f"broker {node.node_id} exited with code {node.process.returncode}; "
                        f"see {self.directory / f'broker-{node.node_id}.log'}"
                    )
            try:
                if len(admin.list_topics(timeout=2).brokers) == len(self.nodes) and self._write_probe(admin):
                    return
            except KafkaException:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"the cluster was not ready within {timeout:.0f}s; logs in {self.directory}")
            time.sleep(0.25)

    def _write_probe(self, admin: AdminClient) -> bool:
        replicas = min(len(self.nodes), 3)
        futures = admin.create_topics([NewTopic(READY_TOPIC, 1, replicas)], operation_timeout=5)
        try:
            futures[READY_TOPIC].result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                return False
        producer = Producer(
            {"bootstrap.servers": self.bootstrap_servers, "acks": "all", "enable.idempotence": True, "log_level": 0,
             "message.timeout.ms": 5000}
        )  # fmt: skip
        failures: list[object] = []
        producer.produce(READY_TOPIC, b"ready", on_delivery=lambda err, _msg: err and failures.append(err))
        return producer.flush(6) == 0 and not failures

    def kill(self, node_id: int) -> None:
        """kill -9 one node, as a crashed machine would stop."""
        node = self.node(node_id)
        if node.running:
            node.process.kill()
            node.process.wait()

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Starts a stopped node again on its ports and data, and waits until the cluster is whole."""
        node = self.node(node_id)
        if node.running:
            raise ClusterError(f"broker {node_id} is still running")
        self._launch(_java(), kafka_jars(), node)
        self.wait_ready(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to every node at once (controlled shutdown), SIGKILL to whatever is left after `timeout`."""
        running = [node for node in self.nodes if node.running]
        for node in running:
            node.process.terminate()
        deadline = time.monotonic() + timeout
        for node in running:
            try:
                node.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        for node in self.nodes:
            (self.directory / f"broker-{node.node_id}.pid").unlink(missing_ok=True)

    def __enter__(self) -> ApacheKafkaCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _cluster_id() -> str:
    # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding (22 characters). One
    # may start with "-", so it is passed as --cluster-id=ID, never as a separate argument.
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/kafka-cluster", description="Run a local Apache Kafka KRaft cluster until SIGTERM or SIGINT."
    )
    parser.add_argument("--brokers", type=int, choices=[1, 3], default=1)
    parser.add_argument("--dir", required=True, type=Path, help="data, logs, properties and pid files")
    parser.add_argument("--port", type=int, default=0, help="first client port (controllers: +100); default free")
    parser.add_argument("--partitions", type=int, default=6, help="default partitions of new topics")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the cluster")
    args = parser.parse_args(argv)
    if args.partitions < 1 or args.timeout <= 0 or not 0 <= args.port <= 65000:
        parser.error("--partitions must be at least 1, --timeout positive and --port between 0 and 65000")

    stopping: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    cluster = ApacheKafkaCluster(args.dir, brokers=args.brokers, port=args.port, partitions=args.partitions)
    try:
        cluster.start(timeout=args.timeout)
    except ClusterError as exc:
        print(f"kafka-cluster: {exc}", file=sys.stderr)
        return 1
    if stopping:
        cluster.stop()
        return 0
    print(cluster.bootstrap_servers, flush=True)
    print(f"kafka-cluster: {args.brokers} broker(s) of Apache Kafka {kafka_version()} ready", file=sys.stderr)
    try:
        while not stopping:
            for node in cluster.nodes:
                if node.process is not None and node.process.poll() is not None:
                    print(f"kafka-cluster: broker {node.node_id} exited ({node.process.returncode})", file=sys.stderr)
                    node.process = None
            time.sleep(0.5)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
