"""In a real browser (Debian's chromium, headless, driven by Playwright): support retries a receipt,
an accountant downloads reports. Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fiscalization.models import Receipt
from refundtool.models import Refund, RefundTransition
from refundtool.reports import business_zone
from refundtool.roles import ACCOUNTANT, SUPPORT
from tests.admin.factories import make_refund

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package (apt-get install chromium)"
        )
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are still
    # synchronous, so Django's async-safety guard is lifted for these tests only.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _log_in(page: Page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def test_support_finds_a_refund_and_retries_its_receipt(page, make_user):
    refund = make_refund("fiscal_failed", order_number="RU-BROWSER-1")
    Receipt.objects.filter(refund=refund).update(status="fail", attempts=3, last_error="provider outage")
    make_refund("fiscal_failed", order_number="RU-BROWSER-2")
    make_user("support.anna", SUPPORT)

    _log_in(page, "support.anna")
    page.goto("/admin/refundtool/refund/")
    page.fill("#searchbar", "RU-BROWSER-1")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    _shot(page, "support-1-search")
    rows.first.locator("a", has_text="RU-BROWSER-1").click()

    expect(page.locator("#refund-timeline")).to_contain_text("fail_receipt")
    _shot(page, "support-2-refund")
    page.click("a[data-action=retry-fiscal]")
    page.fill("#id_reason", "provider outage is over (INC-42)")
    _shot(page, "support-3-confirm")
    page.click("#action-form input[type=submit]")

    expect(page.locator(".messagelist")).to_contain_text("Retry fiscal receipt: done")
    last = page.locator("#refund-timeline tr.timeline-row").last
    expect(last).to_contain_text("retry_receipt")
    expect(last.locator(".actor")).to_contain_text("user: support.anna")
    expect(last.locator(".reason")).to_contain_text("provider outage is over (INC-42)")
    expect(page.locator("#refund-receipts")).to_contain_text("part 1, attempt 2")  # fiscalization's new attempt
    _shot(page, "support-4-audited")
    audit = RefundTransition.objects.filter(refund=refund).latest("sequence")
    assert (audit.transition, audit.actor_id) == ("retry_receipt", "support.anna")
    assert Refund.objects.get(pk=refund.pk).status == "refunded"


def test_accountant_downloads_reports_whose_totals_match_the_database(page, make_user):
    for country, state in (("RU", "completed"), ("RU", "refunded"), ("KZ", "completed"), ("BY", "completed")):
        make_refund(state, country)
    make_refund()  # money not out yet: not in the report
    make_user("accountant.olga", ACCOUNTANT)
    today = timezone.localdate(timezone=business_zone())

    _log_in(page, "accountant.olga")
    page.goto("/admin/refundtool/refund/")
    page.click("#reports-link")
    page.fill("#date_from", str(today - timedelta(days=1)))
    page.fill("#date_to", str(today + timedelta(days=1)))
    _shot(page, "accountant-1-reports")
    downloads = {}
    for kind in ("csv", "xlsx"):
        with page.expect_download() as info:
            page.click(f"#download-{kind}")
        download = info.value
        assert download.suggested_filename == f"refunds_{today - timedelta(days=1)}_{today + timedelta(days=1)}.{kind}"
        target = ARTIFACTS / download.suggested_filename
        download.save_as(target)
        downloads[kind] = target

    expected = {
        row["currency"]: row["amount"]
        for row in Refund.objects.filter(refunded_at__isnull=False).values("currency").annotate(amount=Sum("amount"))
    }
    with downloads["csv"].open(newline="") as file:
        csv_totals = {
            row["currency"]: Decimal(row["amount"]) for row in csv.DictReader(file) if row["refund_id"] == "TOTAL"
        }
    assert csv_totals == expected
    sheet = openpyxl.load_workbook(io.BytesIO(downloads["xlsx"].read_bytes())).active
    header, *rows = sheet.iter_rows(values_only=True)
    xlsx_totals = {row[header.index("currency")]: row[header.index("amount")] for row in rows if row[0] == "TOTAL"}
    assert {currency: Decimal(str(amount)) for currency, amount in xlsx_totals.items()} == expected
