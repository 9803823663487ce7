"""Issue 22 in a real browser (Debian's chromium through Playwright, as tests/admin/test_browser.py):
support finds a refund by a marking code, sees its tenders and marks, and registers a correction
receipt of its failed receipt, which the real Celery worker sends to the emulator."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fiscalization.models import CorrectionReceipt
from refundtool.roles import SUPPORT
from refundtool.services import refund_request
from refundtool.states import RefundStatus
from tests.admin.test_browser import _log_in, _shot
from tests.domain.factories import MARK_CODES, bob, request_v2_data
from tests.receipts_acceptance.test_correction_receipts import failed_past_its_sla, refund_state
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
# MARK_CODES[1] as printed under the DataMatrix: what support types from a returned box.
PRINTED_CODE = "(01)04690123456783(21)5hT9qL2xW8p01"


def test_support_finds_a_refund_by_marking_code_sees_tenders_and_marks_and_corrects_its_receipt(
    page, make_user, quick_fiscal
):
    refund = failed_past_its_sla(quick_fiscal)
    other = request_v2_data(order_number="RU-OTHER-MARKS")  # other shoes: must not be found
    other["items"][0]["marks"] = [{"code": MARK_CODES[2]}, {"code": MARK_CODES[3]}]
    refund_request(data=other, actor=bob())
    make_user("support.anna", SUPPORT)

    _log_in(page, "support.anna")
    page.goto("/admin/refundtool/refund/")
    page.fill("#searchbar", PRINTED_CODE)
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(refund.order_number)
    _shot(page, "marks-1-search")
    rows.first.locator("a", has_text=refund.order_number).click()

    tenders = page.locator("#refund-tenders tr.tender-row")
    expect(tenders).to_have_count(2)
    expect(tenders.nth(0)).to_contain_text("3000.00 RUB")
    expect(tenders.nth(1)).to_contain_text("Bonus points")
    expect(tenders.nth(1)).to_contain_text("648.50 RUB")
    marks = page.locator("#refund-marks tr.mark-row")
    expect(marks).to_have_count(2)
    for mark, code in zip(marks.all(), MARK_CODES[:2], strict=True):
        expect(mark).to_contain_text("04690123456783")
        expect(mark.locator("code")).to_have_text(code)
    _shot(page, "marks-2-refund")

    page.click("a[data-action=correction-receipt]")
    page.check("input[name=correction_type][value=self]")
    page.fill("#id_base_date", "2026-03-02")
    page.fill("#id_base_number", "17")
    page.fill("#id_reason", "the receipt failed past its SLA (INC-78)")
    _shot(page, "marks-3-correction")
    page.click("#action-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Register a correction receipt: done")
    expect(page.locator("#refund-receipts")).to_contain_text(f"correction 1 ({refund.id}-c1;")
    expect(page.locator("#refund-receipts")).to_contain_text("asked by support.anna")

    wait_for(lambda: refund_state(refund)[0] == RefundStatus.COMPLETED, timeout=20, message="the correction")
    correction = CorrectionReceipt.objects.get(refund=refund)
    assert quick_fiscal.registered(correction.external_id)["operation"] == "sell_refund_correction"
    page.reload()
    last = page.locator("#refund-timeline tr.timeline-row").last
    expect(last).to_contain_text("fiscalization")
    expect(last.locator(".reason")).to_contain_text(f"correction receipt {correction.external_id} registered")
    _shot(page, "marks-4-corrected")
