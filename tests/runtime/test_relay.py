"""The outbox relay against the real broker and PostgreSQL: what it sends, its order per key next to
other relays, its wake-up on commit, and pruning."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import orjson
import pytest
from confluent_kafka import Message
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from events.messaging.kafka import UNCONFIRMED
from events.messaging.models import OutboxMessage
from events.messaging.relay import NOTIFY_CHANNEL, OutboxRelay
from refundtool.services import Actor, refund_request
from refundtool.simulation import fake_refund_request
from tests.support.kafka import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def relay(fresh_broker) -> OutboxRelay:
    call_command("ensure_topics", "--partitions", "3", verbosity=0)
    relay = OutboxRelay(batch_size=500, poll_interval=0.1, retention=timedelta(days=1))
    yield relay
    relay.producer.close()  # flushes first; closing again after run() is harmless


def _refunds(count: int) -> list[str]:
    """New refunds (six outbox rows each: two refund.update, one item_ready_to_refund, each in v1 and v2, as
    REFUNDTOOL_PUBLISH_V1_EVENTS has it by default for a refund of one tender); their order numbers."""
    rng = random.Random(count)
    return [
        refund_request(data=fake_refund_request(rng, country="KZ"), actor=Actor.user("test")).order_number
        for _ in range(count)
    ]


def test_every_row_goes_out_once_as_stored_and_is_marked(relay):
    orders = _refunds(3)

    assert relay.relay_batch() == (18, 0, 0)

    rows = {str(row.eid): row for row in OutboxMessage.objects.all()}
    assert all(row.published_at is not None and row.attempts == 1 and row.last_error == "" for row in rows.values())
    sent = [
        message
        for version in (1, 2)
        for message in read_all(f"refund.update.v{version}", expect=6)
        + read_all(f"refund.item_ready_to_refund.v{version}", expect=3)
    ]
    assert len(sent) == 18
    for message in sent:
        headers = dict(message.headers())
        row = rows[headers["eid"].decode()]
        assert orjson.loads(message.value()) == row.message
        assert message.key().decode() == row.key in orders
        assert headers["event_type"].decode() == row.event_type
        assert message.topic() == row.topic  # each version on its own topic
    assert relay.relay_batch() == (0, 0, 0)


class _FirstAcknowledgedWithoutOffset:
    """The relay's producer, but its first record is reported delivered with no offset and never sent:
    what librdkafka reports for a retried send that the broker answered DUPLICATE_SEQUENCE_NUMBER,
    which a young Apache Kafka cluster was seen to leave out of the log."""

    def __init__(self, producer) -> None:
        self.producer = producer
        self.faked_eid: str | None = None

    def produce(self, topic, *, on_delivery, headers, **kwargs) -> None:
        if self.faked_eid is None:
            self.faked_eid = dict(headers)["eid"].decode()
            on_delivery(None, Message(topic=topic, partition=0))
            return
        self.producer.produce(topic, on_delivery=on_delivery, headers=headers, **kwargs)

    def __getattr__(self, name):
        return getattr(self.producer, name)


def test_a_record_acknowledged_without_an_offset_is_not_taken_as_published(relay):
    orders = _refunds(2)
    relay.producer = _FirstAcknowledgedWithoutOffset(relay.producer)

    published, failed, parked = relay.relay_batch()

    faked = OutboxMessage.objects.get(eid=relay.producer.faked_eid)
    assert (failed, parked) == (1, 0)
    assert (faked.published_at, faked.last_error) == (None, UNCONFIRMED)
    # The next batch sends it, and the rows of its key that waited behind it, in order.
    assert relay.relay_batch() == (12 - published, 0, 0)
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    on_topic = [
        dict(message.headers())["eid"].decode()
        for version in (1, 2)
        for message in read_all(f"refund.update.v{version}", expect=4)
        + read_all(f"refund.item_ready_to_refund.v{version}", expect=2)
    ]
    assert sorted(on_topic) == sorted(str(eid) for eid in OutboxMessage.objects.values_list("eid", flat=True))
    assert {OutboxMessage.objects.get(eid=eid).key for eid in on_topic} == set(orders)


def test_a_row_waits_while_another_relay_holds_an_earlier_row_of_its_key(relay):
    held_order, _other_order = _refunds(2)
    first_held = OutboxMessage.objects.filter(key=held_order).order_by("id").first()
    locked, release = threading.Event(), threading.Event()

    def other_relay() -> None:
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(id=first_held.id)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_relay)
    thread.start()
    try:
        assert locked.wait(10)
        assert relay.relay_batch() == (6, 0, 0)
        unpublished = OutboxMessage.objects.filter(published_at__isnull=True)
        assert set(unpublished.values_list("key", flat=True)) == {held_order}
        assert unpublished.count() == 6
    finally:
        release.set()
        thread.join()
    assert relay.relay_batch() == (6, 0, 0)
    updates = [m for m in read_all("refund.update.v1", expect=4) if m.key().decode() == held_order]
    assert [orjson.loads(m.value())["data"]["sequence"] for m in updates] == [1, 2]


def test_a_commit_wakes_the_listening_relay(relay):
    listener = relay._listen()
    _refunds(1)

    notification = next(listener.notifies(timeout=5, stop_after=1), None)

    assert notification is not None
    assert notification.channel == NOTIFY_CHANNEL


def test_a_rolled_back_change_sends_no_notification_and_leaves_no_row(relay):
    listener = relay._listen()

    def change_that_fails() -> None:
        with transaction.atomic():
            _refunds(1)
            raise RuntimeError("the change fails after its outbox rows were written")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert next(listener.notifies(timeout=0.5, stop_after=1), None) is None
    assert not OutboxMessage.objects.exists()


def test_pruning_deletes_only_rows_published_before_the_retention(relay):
    _refunds(2)
    relay.relay_batch()
    old = OutboxMessage.objects.order_by("id")[:4].values_list("id", flat=True)
    OutboxMessage.objects.filter(id__in=list(old)).update(published_at=timezone.now() - timedelta(days=2))
    _refunds(1)  # unpublished rows are never pruned, however old
    OutboxMessage.objects.filter(published_at__isnull=True).update(created_at=timezone.now() - timedelta(days=9))

    assert relay.prune() == 4
    assert OutboxMessage.objects.filter(published_at__isnull=False).count() == 8
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 6


def test_pruning_goes_a_chunk_at_a_time_and_an_unfinished_pass_goes_on_at_the_next_idle_moment(relay):
    _refunds(3)
    relay.relay_batch()
    OutboxMessage.objects.update(published_at=timezone.now() - timedelta(days=4))
    statements: list[str] = []

    def count_deletes(execute, sql, params, many, context):
        if sql.startswith("DELETE"):
            statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_deletes):
        assert relay.prune(chunk_size=2, chunks=2) == 4  # 18 expired rows; this pass takes two chunks
    assert len(statements) == 2
    assert OutboxMessage.objects.count() == 14

    stop = threading.Event()

    def run() -> None:
        try:
            relay.run(stop)
        finally:
            connection.close()  # this thread's own connection

    runner = threading.Thread(target=run)
    runner.start()  # the relay is idle: it goes on with the unfinished prune at once
    try:
        deadline = timezone.now() + timedelta(seconds=20)
        while OutboxMessage.objects.exists() and timezone.now() < deadline:
            stop.wait(0.1)
    finally:
        stop.set()
        runner.join(timeout=20)
    assert not OutboxMessage.objects.exists()
    with pytest.raises(RuntimeError, match="closed"):  # a stopped relay leaves no producer connecting
        relay.producer.poll(0)


def test_a_relay_started_while_the_database_is_down_waits_and_then_relays(relay, tmp_path):
    from tests.support.processes import manage, service_env, wait_for
    from tests.support.tcp_proxy import TcpProxy

    db = connection.settings_dict
    with TcpProxy(int(db["PORT"])) as proxy:
        proxy.cut()
        env = service_env(DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}")
        process = manage("relay", "relay_outbox", env=env, log_dir=tmp_path).start()
        try:
            wait_for(lambda: "database unavailable" in process.log(), timeout=30, message=process.log)
            orders = _refunds(2)
            assert process.process.poll() is None, process.log()  # waiting, not exited or crash-looping
            proxy.restore()
            published = read_all("refund.update.v1", expect=4, timeout=60)
            assert {m.key().decode() for m in published} == set(orders)
            wait_for(lambda: "database available again" in process.log(), timeout=10, message=process.log)
            whole_log = process.log_path.read_text(errors="replace")
            assert whole_log.count("database unavailable") == 1, "one line per outage, not one per retry"
        finally:
            assert process.stop() == 0, process.log()
