"""A process started while a dependency is down waits for it, says so once, and then works."""

import random
import time

import pytest
from confluent_kafka import Producer

from events.contracts.envelope import build_message, kafka_record
from events.messaging.kafka import producer_config
from refundtool.models import Refund
from refundtool.simulation import REQUEST_VERSION, fake_refund_request
from tests.support.processes import manage, service_env, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_a_consumer_started_while_the_broker_is_down_waits_and_then_consumes(
    cuttable_broker, transactional_db, tmp_path
):
    cuttable_broker.cut()
    consumer = manage("consumer", "consume", "--group", "refundtool-late-broker", env=service_env(), log_dir=tmp_path)
    consumer.start()
    try:
        wait_for(lambda: "Kafka broker unavailable" in consumer.log(), timeout=60, message=consumer.log)
        time.sleep(3)
        assert consumer.process.poll() is None, consumer.log()  # waiting, not exited
        cuttable_broker.restore()
        wait_for(lambda: "Kafka broker available again" in consumer.log(), timeout=60, message=consumer.log)
        data = fake_refund_request(random.Random(8), country="KZ")
        record = kafka_record(
            build_message("bob.refund_requested", data, country="KZ", producer="bob", version=REQUEST_VERSION)
        )
        producer = Producer(producer_config())
        producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers)
        assert producer.flush(30) == 0
        wait_for(
            lambda: Refund.objects.filter(order_number=data["order_number"]).exists(), timeout=60, message=consumer.log
        )
        whole_log = consumer.log_path.read_text(errors="replace")
        assert whole_log.count("Kafka broker unavailable") == 1, "one line per outage, not one per retry"
    finally:
        assert consumer.stop() == 0, consumer.log()
