"""Acceptance of issue 6: crashes and outages lose nothing and double nothing."""

import random
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from events.messaging.models import OutboxMessage
from refundtool.models import Refund
from refundtool.services import Actor, refund_request
from refundtool.simulation import fake_refund_request
from tests.flow.conftest import payloads
from tests.support.kafka import read_all
from tests.support.processes import service_env, wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
FINAL = {"refunded", "completed"}
OUTAGE_SECONDS = 30
UPDATE_AND_COMMAND_TOPICS = [
    f"{name}.v{version}" for name in ("refund.update", "refund.item_ready_to_refund") for version in (1, 2)
]


def assert_each_refund_changed_once(n: int) -> None:
    refunds = list(Refund.objects.all())
    assert len(refunds) == n
    for refund in refunds:
        assert refund.transitions.count() == refund.sequence, refund.id
    # Version 2 commands every refund (version 1, beside it, only those of one tender).
    commands = OutboxMessage.objects.filter(event_type="refund.item_ready_to_refund", version=2)
    assert commands.count() == n


def test_consumer_killed_mid_stream_loses_and_doubles_nothing(flow):
    n = 1500
    flow.publish(*(flow.request(country) for country in ["RU", "KZ"] * (n // 2)))
    consumer = flow.start("consumer", "consume", "--group", "refundtool-crash", "--batch-size", "50")
    wait_for(lambda: Refund.objects.count() >= 100, timeout=60, message=flow.logs)
    consumer.kill9()
    assert Refund.objects.count() < n, "the consumer finished before the kill: raise n"
    flow.start("consumer-restarted", "consume", "--group", "refundtool-crash")
    wait_for(lambda: Refund.objects.count() == n, timeout=120, message=flow.logs)
    time.sleep(1)  # anything doubled would show up now
    assert_each_refund_changed_once(n)


def test_relay_killed_between_publish_and_mark_only_duplicates_with_the_same_eid(flow):
    rng = random.Random(3)
    for _ in range(20):
        refund_request(data=fake_refund_request(rng, country="KZ"), actor=Actor.user("tester"))
    rows = {str(row.eid): row for row in OutboxMessage.objects.all()}
    relay = flow.start("relay", "relay_outbox", env=service_env(REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS="60000"))
    # Kill only once every row is in the log: the relay sends a key's rows in rounds, and the last
    # round may still be in flight when an earlier topic is complete (seen on Apache Kafka's acks=all).
    for topic in UPDATE_AND_COMMAND_TOPICS:
        expect = 40 if topic.startswith("refund.update.") else 20
        assert len(read_all(topic, expect=expect, timeout=30)) == expect, (topic, relay.log())
    relay.kill9()
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == len(rows)

    flow.start("relay-restarted", "relay_outbox")
    wait_for(lambda: not OutboxMessage.objects.filter(published_at__isnull=True).exists(), timeout=30)
    # Each refund's two snapshots and its command, in v1 and v2 (one tender), all published twice.
    sent = Counter(
        m["metadata"]["eid"]
        for topic in UPDATE_AND_COMMAND_TOPICS
        for m in payloads(read_all(topic, expect=80 if topic.startswith("refund.update.") else 40, timeout=10))
    )
    assert set(sent) == set(rows)
    assert set(sent.values()) == {2}, "the rows published before the kill went out again, with the same eid"


def test_broker_unreachable_for_30_seconds_then_the_outbox_drains(cuttable_broker, transactional_db, tmp_path):
    from django.core.management import call_command

    from tests.support.processes import manage

    call_command("ensure_topics", "--partitions", "3", verbosity=0)
    relay = manage("relay", "relay_outbox", env=service_env(), log_dir=tmp_path).start()
    rng = random.Random(5)
    try:
        refund_request(data=fake_refund_request(rng, country="BY"), actor=Actor.user("tester"))
        wait_for(lambda: not OutboxMessage.objects.filter(published_at__isnull=True).exists(), timeout=30)
        cuttable_broker.cut()
        deadline = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < deadline:
            refund_request(data=fake_refund_request(rng, country="BY"), actor=Actor.user("tester"))
            time.sleep(1)
        assert OutboxMessage.objects.filter(published_at__isnull=True).count() > 0
        cuttable_broker.restore()
        wait_for(
            lambda: not OutboxMessage.objects.filter(published_at__isnull=True).exists(),
            timeout=60,
            message=relay.log,
        )
        expected = {
            str(eid) for eid in OutboxMessage.objects.filter(topic="refund.update.v1").values_list("eid", flat=True)
        }
        sent = {m["metadata"]["eid"] for m in payloads(read_all("refund.update.v1", expect=len(expected)))}
        assert sent >= expected
    finally:
        assert relay.stop() == 0, relay.log()


def test_database_unreachable_for_30_seconds_under_the_consumer(flow):
    db = connection.settings_dict
    with TcpProxy(int(db["PORT"] or 5432)) as proxy:
        env = service_env(
            DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
            DJANGO_DEBUG="1",
        )
        flow.start("consumer", "consume", "--group", "refundtool-db-outage", "--batch-size", "20", env=env)
        flow.start("relay", "relay_outbox")
        flow.start("payment", "simulate_payment", "--fail-rate", "0", "--latency-ms", "0")
        flow.publish(*(flow.request("KZ") for _ in range(40)))
        wait_for(lambda: Refund.objects.filter(status="completed").count() == 40, timeout=60, message=flow.logs)

        proxy.cut()
        flow.publish(*(flow.request("KZ") for _ in range(60)))
        time.sleep(OUTAGE_SECONDS)
        assert Refund.objects.count() == 40
        proxy.restore()
        wait_for(lambda: Refund.objects.filter(status="completed").count() == 100, timeout=90, message=flow.logs)
    for topic in ("bob.refund_requested.v1.dlq", "payment.refund_processed.v2.dlq"):  # what travels here
        assert read_all(topic, expect=1, timeout=2) == [], f"{topic} got a good message"
    assert "database unavailable" in flow.processes["consumer"].log()
    assert_each_refund_changed_once(100)
    assert settings.KAFKA_BOOTSTRAP_SERVERS  # the consumer kept its broker throughout
