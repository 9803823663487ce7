"""Acceptance of issue 6: N refund requests through consumer, relay and Payment simulator processes."""

from collections import Counter, defaultdict

import pytest

from events.messaging.models import InboxMessage
from refundtool.models import Refund, RefundTransition
from tests.flow.conftest import payloads
from tests.support.kafka import read_all
from tests.support.processes import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
FINAL = {"refunded", "completed"}


def test_refunds_flow_end_to_end_with_repeats_and_a_poison_message(flow):
    flow.start_service()
    first = [flow.request(country) for country in ["RU", "KZ", "BY", "UA"] * 5]
    second = [flow.request(country) for country in ["RU", "KZ"] * 10]
    flow.publish(*first)
    flow.publish_raw("bob.refund_requested.v1", b'{"metadata": {"eid": "not-a-uuid"}, "data"', key=b"RU-POISON")
    repeated_eid = first[0]
    resent_request = flow.request("RU") | {"data": first[1]["data"]}  # a new eid, the same refund_request_id
    flow.publish(*second, repeated_eid, resent_request)
    n = len(first) + len(second)

    wait_for(
        lambda: Refund.objects.filter(status__in=FINAL).count() == n,
        timeout=90,
        message=lambda: f"{Counter(Refund.objects.values_list('status', flat=True))}\n{flow.logs()}",
    )
    refunds = {str(r.id): r for r in Refund.objects.all()}
    assert len(refunds) == n
    assert {r.status for r in refunds.values() if r.country == "RU"} == {"refunded"}  # awaiting the receipt
    assert {r.status for r in refunds.values() if r.country != "RU"} == {"completed"}

    commands = payloads(read_all("refund.item_ready_to_refund.v1", expect=n))
    assert Counter(c["data"]["refund_id"] for c in commands) == Counter(dict.fromkeys(refunds, 1))
    refunded = payloads(read_all("refund.money_refunded.v1", expect=n))
    assert Counter(m["data"]["refund_id"] for m in refunded) == Counter(dict.fromkeys(refunds, 1))

    expected_snapshots = sum(r.sequence for r in refunds.values())
    snapshots = defaultdict(list)
    for update in payloads(read_all("refund.update.v1", expect=expected_snapshots)):
        snapshots[update["data"]["refund_id"]].append(update["data"]["sequence"])
    for refund_id, sequences in snapshots.items():
        assert sequences == list(range(1, refunds[refund_id].sequence + 1)), refund_id

    # The repeats changed nothing: no refund, transition or event beyond the first delivery's.
    assert RefundTransition.objects.count() == expected_snapshots
    assert InboxMessage.objects.filter(eid=repeated_eid["metadata"]["eid"]).count() == 1

    [poison] = read_all("bob.refund_requested.v1.dlq", expect=1)
    headers = {k: v.decode() for k, v in poison.headers()}
    assert headers["dlq.error.class"] == "MalformedMessage"
    assert poison.key() == b"RU-POISON"
    for name in ("consumer", "relay", "payment"):
        assert flow.processes[name].stop() == 0, flow.logs()
