"""The consumer's batch path (refund_request_many: COPY) writes what the plain path writes (refund_request
one at a time: the ORM), row for row: refunds, items, tenders, marks, audit rows, outbox rows and response
expectations, for requests of both versions of bob.refund_requested."""

import random
import uuid
from typing import Any

import pytest

from events.messaging.models import OutboxMessage
from events.monitoring.models import ResponseExpectation
from refundtool.models import Refund, RefundItem, RefundItemMark, RefundTender, RefundTransition
from refundtool.services import Actor, refund_request, refund_request_many
from refundtool.simulation import fake_refund_request
from tests.domain.factories import request_v2_data

pytestmark = pytest.mark.django_db
# What differs between two writes of the same request by nature: ids, eids and the moment.
VOLATILE = {"id", "eid", "occurred_at", "received_at", "updated_at", "status_changed_at", "created_at", "flow_id"}


def requests() -> list[tuple[dict, Actor]]:
    rng = random.Random(17)
    v1 = [fake_refund_request(rng, country=country) for country in ["RU", "KZ", "BY", "UA"] * 3]
    v2 = [request_v2_data(), request_v2_data("KZ", tenders=[{"method": "card", "amount": "3648.50"}])]
    return [(data, Actor.event(eid=uuid.uuid4(), producer="bob")) for data in v1 + v2]


def written() -> dict[str, Any]:
    """Every row the requests wrote, refund ids replaced by their refund_request_id, volatile values left out."""
    names = {str(refund.id): str(refund.refund_request_id) for refund in Refund.objects.all()}

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items() if key not in VOLATILE}
        if isinstance(value, list):
            return [plain(item) for item in value]
        text = str(value) if isinstance(value, uuid.UUID) else value
        return names.get(text, text) if isinstance(text, str) else value

    def rows(queryset, *exclude: str) -> list[dict]:
        return [plain({k: v for k, v in row.items() if k not in exclude}) for row in queryset.values()]

    return {
        "refunds": sorted(rows(Refund.objects.all()), key=lambda row: row["refund_request_id"]),
        "items": sorted(rows(RefundItem.objects.all()), key=lambda row: (row["refund_id"], row["item_id"])),
        "tenders": sorted(rows(RefundTender.objects.all()), key=lambda row: (row["refund_id"], row["position"])),
        "marks": sorted(rows(RefundItemMark.objects.all()), key=lambda row: (row["refund_id"], row["serial"])),
        "audit": sorted(
            rows(RefundTransition.objects.all(), "at"), key=lambda row: (row["refund_id"], row["sequence"])
        ),
        # The outbox in the order the relay publishes it, each refund's rows in their own order.
        "outbox": sorted(rows(OutboxMessage.objects.order_by("id")), key=lambda row: row["key"]),
        "expectations": sorted(
            rows(ResponseExpectation.objects.all(), "command_eid", "sent_at", "deadline"),
            key=lambda row: row["correlation_value"],
        ),
    }


def test_the_batch_path_writes_what_the_plain_path_writes():
    batch = requests()
    outcomes = refund_request_many(requests=batch)
    assert all(isinstance(outcome, Refund) for outcome in outcomes)
    through_copy = written()
    for model in (OutboxMessage, ResponseExpectation, RefundTransition, RefundItem, Refund):
        model.objects.all().delete()

    for data, actor in batch:
        refund_request(data=data, actor=actor)
    through_orm = written()

    assert len(through_orm["refunds"]) == len(batch)
    assert len(through_orm["audit"]) == 2 * len(batch)  # request, then send_to_payment
    # A refund of one tender is commanded in both versions while v1 is published, of several in v2 only;
    # either way it is one command awaiting Payment's one answer.
    assert len(through_orm["expectations"]) == len(batch)
    assert len(through_orm["marks"]) == 4
    for kind in through_orm:
        assert through_copy[kind] == through_orm[kind], kind
