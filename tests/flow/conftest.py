"""The refund flow with every process as a separate OS process, on the real broker and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka import Producer
from django.core.management import call_command

from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config
from refundtool.simulation import REQUEST_VERSION, fake_refund_request
from tests.support.processes import ServiceProcess, manage, service_env


@pytest.fixture
def flow(fresh_broker, transactional_db, tmp_path) -> Iterator[Flow]:
    call_command("ensure_topics", "--partitions", "3", verbosity=0)
    flow = Flow(tmp_path)
    yield flow
    flow.stop_all()


class Flow:
    def __init__(self, log_dir) -> None:
        self.log_dir = log_dir
        self.env = service_env()
        self.processes: dict[str, ServiceProcess] = {}
        self.producer = Producer(producer_config())
        self.rng = random.Random(7)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> ServiceProcess:
        process = manage(name, *args, env=env or self.env, log_dir=self.log_dir).start()
        self.processes[name] = process
        return process

    def start_service(self, *, fail_rate: str = "0") -> None:
        self.start("consumer", "consume", "--group", "refundtool-flow")
        self.start("relay", "relay_outbox")
        self.start("payment", "simulate_payment", "--fail-rate", fail_rate, "--latency-ms", "0")

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{process.log()}" for name, process in self.processes.items())

    def request(self, country: str = "RU", **overrides: object) -> dict:
        data = fake_refund_request(self.rng, country=country) | overrides
        return build_message("bob.refund_requested", data, country=country, producer="bob", version=REQUEST_VERSION)

    def publish(self, *messages: dict, timeout: float = 10) -> None:
        for message in messages:
            record = kafka_record(message)
            self.producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
        assert self.producer.flush(timeout) == 0

    def publish_raw(self, topic: str, value: bytes, key: bytes) -> None:
        self.producer.produce(topic, key=key, value=value)
        assert self.producer.flush(10) == 0


def payloads(messages) -> list[dict]:
    return [orjson.loads(message.value()) for message in messages]
