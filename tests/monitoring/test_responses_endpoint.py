"""GET /monitoring/responses: commands waiting for their response, and a 400 for each kind of bad query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.monitoring.expectations import expectations_answer
from events.monitoring.models import ResponseExpectation
from tests.domain.factories import new_refund
from tests.monitoring.helpers import command_of, incoming, response_to

pytestmark = pytest.mark.django_db
COMMAND = "refund.item_ready_to_refund"


@pytest.fixture(autouse=True)
def _one_command_per_refund(settings):
    """v2 only: with v1 still published, a refund of one tender is commanded (and awaited) twice."""
    settings.REFUNDTOOL_PUBLISH_V1_EVENTS = []


@pytest.fixture
def waiting():
    """Two refunds overdue by 2 and 1 minutes, one still in time, one answered."""
    now = timezone.now()
    late, later, in_time, answered = (new_refund() for _ in range(4))
    for refund, deadline in [(late, -120), (later, -60), (in_time, 600), (answered, -300)]:
        ResponseExpectation.objects.filter(correlation_value=str(refund.id)).update(
            deadline=now + timedelta(seconds=deadline)
        )
    expectations_answer(events=[incoming(response_to(command_of(answered)))])
    return {"late": late, "later": later, "in_time": in_time}


def test_overdue_lists_the_overdue_commands_most_overdue_first(ops_client, waiting):
    response = ops_client.get("/monitoring/responses", {"overdue": "1"})
    assert response.status_code == 200
    body = response.json()
    assert body["error"] is False
    assert body["filters"] == {"overdue": True, "command_type": None}
    assert body["count"] == 2
    assert [r["correlation"]["value"] for r in body["responses"]] == [str(waiting["late"].id), str(waiting["later"].id)]
    first = body["responses"][0]
    assert first["command_type"] == COMMAND
    assert first["response_type"] == "payment.refund_processed"
    assert first["correlation"]["field"] == "refund_id"
    assert first["key"] == waiting["late"].order_number
    assert first["overdue"] is True
    assert 115 < first["overdue_seconds"] < 180
    assert first["reported_overdue_at"] is None  # the periodic check has not run


def test_overdue_0_lists_those_still_in_time_and_no_filter_lists_all_waiting(ops_client, waiting):
    in_time = ops_client.get("/monitoring/responses", {"overdue": "false"}).json()
    assert [r["correlation"]["value"] for r in in_time["responses"]] == [str(waiting["in_time"].id)]
    assert in_time["responses"][0]["overdue"] is False
    assert ops_client.get("/monitoring/responses").json()["count"] == 3


def test_limit_and_command_type(ops_client, waiting):
    body = ops_client.get("/monitoring/responses", {"overdue": "1", "limit": "1", "command_type": COMMAND}).json()
    assert (body["count"], body["limit"], len(body["responses"])) == (2, 1, 1)


@pytest.mark.parametrize(
    ("query", "path", "message"),
    [
        ({"overdue": "maybe"}, "/query/overdue", "must be one of 1, 0, true, false"),
        ({"command_type": "refund.update"}, "/query/command_type", "must be one of refund.item_ready_to_refund"),
        ({"limit": "0"}, "/query/limit", "must be a whole number from 1 to 1000"),
        ({"limit": "1001"}, "/query/limit", "must be a whole number from 1 to 1000"),
        ({"limit": "ten"}, "/query/limit", "must be a whole number from 1 to 1000"),
        ({"overdeu": "1"}, "/query/overdeu", "is not a parameter of this endpoint"),
        ({"overdue": ["1", "0"]}, "/query/overdue", "is given more than once"),
    ],
    ids=["bad boolean", "not a command", "limit too small", "limit too large", "limit not a number", "typo", "twice"],
)
def test_each_kind_of_bad_query_is_a_400_naming_the_parameter(ops_client, query, path, message):
    response = ops_client.get("/monitoring/responses", query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_query"
    [error] = [e for e in body["error"]["details"] if e["path"] == path]
    assert message in error["message"]


def test_only_get_is_allowed(ops_client):
    response = ops_client.post("/monitoring/responses")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"
