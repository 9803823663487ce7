"""The monitoring page: charts of refunds per state, receipt latency against the SLA, lag per group."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from events.monitoring import store
from events.monitoring.flags import flags_raise
from events.monitoring.history import lag_history_record
from events.monitoring.lag import PartitionWindow
from events.monitoring.models import ResponseExpectation
from refundtool.models import Refund
from refundtool.monitoring import refund_states_record
from tests.domain.factories import new_refund
from tests.monitoring.helpers import staff_user

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def charts(html: str) -> dict[str, ET.Element]:
    """Each chart's SVG, parsed (so it is well-formed), by its title."""
    found = {}
    rest = html
    opening = '<svg xmlns="http://www.w3.org/2000/svg" class="monitoring-chart"'
    while opening in rest:
        start = rest.index(opening)
        end = rest.index("</svg>", start) + len("</svg>")
        svg = ET.fromstring(rest[start:end])  # noqa: S314 - our own page
        found[svg.find(f"{SVG}title").text] = svg
        rest = rest[end:]
    return found


def lines(svg: ET.Element) -> dict[str, int]:
    """Label -> number of points drawn."""
    return {
        group.get("data-label"): sum(len(p.get("points").split()) for p in group.iter(f"{SVG}polyline"))
        for group in svg.iter(f"{SVG}g")
        if group.get("class") == "line"
    }


def test_anonymous_users_are_sent_to_the_login(client):
    response = client.get("/admin/monitoring/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_page_draws_states_latency_and_lag_over_time(client, redis_client):
    now = timezone.now()
    ready = new_refund("KZ")
    for minutes_ago in (30, 20, 10):
        refund_states_record(now=now - timedelta(minutes=minutes_ago))
    receipted = new_refund("RU")
    Refund.objects.filter(pk=receipted.pk).update(
        status="completed",
        fiscal_status="done",
        refunded_at=now - timedelta(minutes=15),
        receipt_datetime=now - timedelta(minutes=15) + timedelta(seconds=45),
    )
    window = PartitionWindow(topic="bob.refund_requested.v1", partition=0, commits=[], broker_offsets=[], current_lag=7)
    group = store.GroupWindows(group="refundtool", state="STABLE", sampled_at_ms=1, windows=[window])
    store.save_pass(sampled_at_ms=1, groups=[group], dropped=[])
    for minutes_ago in (12, 6):
        lag_history_record(now=now - timedelta(minutes=minutes_ago))
    client.force_login(staff_user())

    response = client.get("/admin/monitoring/", {"range": "1h"})
    assert response.status_code == 200
    html = response.content.decode()
    drawn = charts(html)
    assert set(drawn) == {
        "Refunds per state",
        "Fiscal receipt latency against the SLA",
        "Consumer lag per group",
        "Commands sent and answered",
    }
    states = lines(drawn["Refunds per state"])
    assert states["ready_to_refund"] == 3
    assert states["needs_attention"] == 3  # zeros are drawn too
    latency = drawn["Fiscal receipt latency against the SLA"]
    assert lines(latency) == {"slowest receipt": 1, "average receipt": 1}
    assert any(line.get("class") == "threshold" for line in latency.iter(f"{SVG}line"))
    assert f"SLA {settings.FISCAL_SLA_SECONDS} s" in html
    assert lines(drawn["Consumer lag per group"]) == {"refundtool": 2}
    assert "No data in this range yet" in ET.tostring(drawn["Commands sent and answered"]).decode()
    assert ready.status == "ready_to_refund"
    assert "ready_to_refund: <strong>1</strong>" in html  # the legend gives the last value


def test_the_tiles_point_at_what_needs_a_look(client):
    overdue = new_refund("KZ")
    ResponseExpectation.objects.update(deadline=timezone.now() - timedelta(seconds=1))
    flags_raise(subject_type="refund", kind="payment_unanswered", details={str(overdue.id): "Payment is silent"})
    client.force_login(staff_user())
    html = client.get("/admin/monitoring/").content.decode()
    assert "Overdue: refund.item_ready_to_refund" in html
    assert "?state=overdue&amp;command_type=refund.item_ready_to_refund" in html
    assert "Flagged refunds" in html
    assert "/admin/refundtool/refund/?stuck=yes" in html  # the support admin's stuck filter
    assert "/admin/monitoring/flag/?open=yes&amp;subject_type=refund" in html
    assert "Outbox backlog" in html


def test_an_unknown_range_is_a_400(client):
    client.force_login(staff_user())
    response = client.get("/admin/monitoring/", {"range": "1w"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"path": "/query/range", "message": "must be one of 1h, 6h, 24h, 48h"}
    ]


@pytest.mark.parametrize("state", ["overdue", "waiting", "answered", "late"])
def test_the_admin_lists_expectations_by_state(client, state):
    late = new_refund("KZ")
    ResponseExpectation.objects.filter(correlation_value=str(late.id)).update(
        deadline=timezone.now() - timedelta(hours=1)
    )
    new_refund("KZ")
    client.force_login(staff_user())
    response = client.get("/admin/events/responseexpectation/", {"state": state})
    assert response.status_code == 200
    shown = str(late.id) in response.content.decode()
    assert shown is (state == "overdue")


def test_the_admin_lists_open_flags(client):
    refund = new_refund("KZ")
    flags_raise(subject_type="refund", kind="stuck_in_ready_to_refund", details={str(refund.id): "for ages"})
    client.force_login(staff_user())
    response = client.get("/admin/monitoring/flag/", {"open": "yes"})
    assert response.status_code == 200
    assert "for ages" in response.content.decode()
    assert client.get("/admin/monitoring/flag/", {"open": "no"}).content.decode().count("for ages") == 0
