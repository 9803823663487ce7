"""Roles come from a data migration: support acts on refunds, accountants view and download reports."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from refundtool.roles import ACCOUNTANT, SUPPORT
from tests.domain.factories import new_refund

pytestmark = pytest.mark.django_db


def _codenames(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions.values_list("content_type__app_label", "codename"))


def test_the_migration_created_both_groups_with_their_permissions():
    # No roles fixture here: the groups must come from the migrated test database itself.
    assert _codenames(SUPPORT) == {("refundtool", "view_refund"), ("refundtool", "act_on_refund")}
    assert _codenames(ACCOUNTANT) == {("refundtool", "view_refund"), ("refundtool", "export_refund_reports")}


def test_an_accountant_sees_refunds_but_cannot_act(accountant):
    refund = new_refund()
    assert accountant.get(reverse("admin:refundtool_refund_changelist")).status_code == 200
    page = accountant.get(reverse("admin:refundtool_refund_change", args=[refund.pk]))
    assert page.status_code == 200
    assert b'class="support-action"' not in page.content
    url = reverse("admin:refundtool_refund_act", args=[refund.pk, "flag-needs-attention"])
    assert accountant.get(url).status_code == 403
    assert accountant.post(url, {"reason": "looks odd"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == "ready_to_refund"
    assert refund.sequence == 2


def test_support_cannot_see_producer_credentials_nor_reports(support):
    assert support.get(reverse("admin:events_producercredential_changelist")).status_code == 403
    assert support.get(reverse("admin:refundtool_refund_reports")).status_code == 403
    index = support.get(reverse("admin:index"))
    assert b"Producer credentials" not in index.content
    assert b"Refunds" in index.content


def test_the_reports_page_is_the_accountants(accountant):
    page = accountant.get(reverse("admin:refundtool_refund_reports"))
    assert page.status_code == 200
    assert reverse("refundtool_api:report-refunds-csv").encode() in page.content
    changelist = accountant.get(reverse("admin:refundtool_refund_changelist"))
    assert b'id="reports-link"' in changelist.content
