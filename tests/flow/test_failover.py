"""A broker of a 3-node Apache Kafka cluster dies mid-flow: nothing is lost, nothing doubled, nobody exits.

Replication factor 3 and min.insync.replicas 2 (the cluster's defaults), idempotent producers with
acks=all. The broker that leads the most partitions is killed with SIGKILL while refunds flow
through the consumer, relay and Payment simulator processes, the flow goes on on the two left, then
the broker comes back. Everything is counted from the topics.
"""

from collections import Counter, defaultdict

import pytest
from confluent_kafka.admin import AdminClient
from django.conf import settings

from refundtool.models import Refund
from tests.flow.conftest import payloads
from tests.support.kafka import read_to_end
from tests.support.processes import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SETTLED = {"refunded", "completed", "payment_failed"}
BATCH = 40
GROUP = "refundtool-flow"  # the consumer's group in tests/flow/conftest.py
# The controller notices a dead broker after broker.session.timeout.ms (9 s) and moves its leaders;
# a producer's send waits that long at most, then is retried by the idempotent producer.
FAILOVER_SECONDS = 60


def busiest_leader() -> int:
    """The node that leads the most partitions, the internal topics' included."""
    metadata = AdminClient({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS}).list_topics(timeout=10)
    leaders = Counter(p.leader for topic in metadata.topics.values() for p in topic.partitions.values())
    return leaders.most_common(1)[0][0]


def group_coordinator() -> int:
    """The node that coordinates the consumer's group: losing it makes the consumer's commits fail."""
    admin = AdminClient({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS})
    return admin.describe_consumer_groups([GROUP])[GROUP].result(timeout=10).coordinator.id


@pytest.mark.parametrize("choose_victim", [busiest_leader, group_coordinator], ids=["busiest-leader", "coordinator"])
def test_a_killed_broker_loses_and_doubles_nothing(flow, kafka_cluster, choose_victim):
    flow.start_service(fail_rate="0.2")
    requests = []

    def send_batch_and_wait(what: str) -> None:
        batch = [flow.request(country) for country in ["RU", "KZ", "BY", "UA"] * (BATCH // 4)]
        flow.publish(*batch, timeout=FAILOVER_SECONDS)
        requests.extend(batch)
        wait_for(
            lambda: Refund.objects.filter(status__in=SETTLED).count() == len(requests),
            timeout=120,
            message=lambda: f"{what}: {Counter(Refund.objects.values_list('status', flat=True))}\n{flow.logs()}",
        )

    send_batch_and_wait("before the kill")
    victim = choose_victim()
    batch = [flow.request("RU") for _ in range(BATCH)]
    flow.publish(*batch)
    requests.extend(batch)
    kafka_cluster.kill(victim)  # while that batch is being consumed, paid and published
    try:
        send_batch_and_wait(f"with broker {victim} dead")
    finally:
        kafka_cluster.restart(victim)  # also after a failure: the session's later tests need the node
    send_batch_and_wait(f"after broker {victim} came back")

    refunds = {str(r.id): r for r in Refund.objects.all()}
    assert len(refunds) == len(requests) == 4 * BATCH
    paid = {refund_id for refund_id, r in refunds.items() if r.status != "payment_failed"}
    assert paid, "the Payment simulator paid nothing"
    assert len(paid) < len(refunds), "the Payment simulator failed nothing"

    commands = payloads(read_to_end("refund.item_ready_to_refund.v1"))
    assert Counter(c["data"]["refund_id"] for c in commands) == Counter(dict.fromkeys(refunds, 1))
    refunded = payloads(read_to_end("refund.money_refunded.v1"))
    assert Counter(m["data"]["refund_id"] for m in refunded) == Counter(dict.fromkeys(paid, 1))
    snapshots = defaultdict(list)
    for update in payloads(read_to_end("refund.update.v1")):
        snapshots[update["data"]["refund_id"]].append(update["data"]["sequence"])
    for refund_id, refund in refunds.items():
        assert snapshots[refund_id] == list(range(1, refund.sequence + 1)), refund_id

    for name, process in flow.processes.items():
        assert process.process.poll() is None, f"{name} exited\n{flow.logs()}"
        assert process.stop() == 0, flow.logs()
