"""What the fiscal provider answers is checked before it is stored: a bad value fails the receipt, once."""

from __future__ import annotations

from typing import Any

import pytest

from fiscalization.models import Receipt, ReceiptStatus
from fiscalization.provider import AtolClient, ProviderAnswerInvalid, fiscal_attributes
from fiscalization.services import receipt_poll, receipt_register, receipts_sweep
from refundtool.states import FiscalStatus, RefundStatus
from tests.fiscal.factories import refunded_refund

GOOD = {
    "fn_number": "9999078900004792",
    "fiscal_document_number": 12345,
    "fiscal_document_attribute": 1234567890,
    "receipt_datetime": "02.03.2026 10:06:00",
    "ofd_receipt_url": "https://check.ofd.example/rec?fn=9999078900004792&fd=12345",
    "shift_number": 7,  # attributes that are not stored are not checked
}


def test_a_good_payload_becomes_the_fiscal_attributes():
    fiscal = fiscal_attributes(GOOD)
    assert (fiscal.fn_number, fiscal.fiscal_document_number, fiscal.fiscal_document_attribute) == (
        "9999078900004792",
        "12345",
        "1234567890",
    )
    assert fiscal.receipt_datetime.isoformat() == "2026-03-02T10:06:00+03:00"
    assert fiscal.ofd_receipt_url == GOOD["ofd_receipt_url"]
    assert fiscal_attributes({**GOOD, "ofd_receipt_url": ""}).ofd_receipt_url == ""  # no link given


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fn_number": "9" * 40}, "fn_number is not 16 digits"),
        ({"fn_number": "99990789000047"}, "fn_number is not 16 digits"),
        ({"fn_number": "99990789OOOO4792"}, "fn_number is not 16 digits"),
        ({"fn_number": "٩٩٩٩٠٧٨٩٠٠٠٠٤٧٩٢"}, "fn_number is not 16 digits"),  # digits, but not ASCII ones
        ({"fn_number": None}, "fn_number is not 16 digits"),
        ({"fiscal_document_number": 12345678901}, "fiscal_document_number is not 1 to 10 digits"),
        ({"fiscal_document_number": -1}, "fiscal_document_number is not 1 to 10 digits"),
        ({"fiscal_document_number": True}, "fiscal_document_number is not 1 to 10 digits"),
        ({"fiscal_document_attribute": "12.5"}, "fiscal_document_attribute is not 1 to 10 digits"),
        ({"receipt_datetime": "2026-03-02T10:06:00"}, "receipt_datetime is not dd.mm.yyyy HH:MM:SS"),
        ({"ofd_receipt_url": "javascript:alert(document.cookie)"}, "ofd_receipt_url is not an https URL"),
        ({"ofd_receipt_url": "JaVaScRiPt:alert(1)//https://x"}, "ofd_receipt_url is not an https URL"),
        ({"ofd_receipt_url": "http://check.ofd.example/rec"}, "ofd_receipt_url is not an https URL"),
        ({"ofd_receipt_url": "https://"}, "ofd_receipt_url is not an https URL"),
        ({"ofd_receipt_url": "https://ofd.example/" + "a" * 500}, "of at most 500 characters"),
        ({"ofd_receipt_url": "https://ofd.example/a\nb"}, "ofd_receipt_url is not an https URL"),
        ({"ofd_receipt_url": 42}, "ofd_receipt_url is not an https URL"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_never_the_value(change, problem):
    with pytest.raises(ProviderAnswerInvalid) as refused:
        fiscal_attributes({**GOOD, **change})
    assert problem in str(refused.value)
    for value in change.values():
        if isinstance(value, str):
            assert value not in str(refused.value)


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ProviderAnswerInvalid, match=r"fn_number .*; fiscal_document_number .*; ofd_receipt_url"):
        fiscal_attributes({**GOOD, "fn_number": "x", "fiscal_document_number": "", "ofd_receipt_url": "ftp://x"})
    with pytest.raises(ProviderAnswerInvalid, match="no payload object"):
        fiscal_attributes(["not", "an", "object"])


def _provider_answers(monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any]) -> None:
    monkeypatch.setattr(AtolClient, "_authorised", lambda self, method, path, data: (200, answer))


@pytest.mark.django_db
def test_a_done_report_with_a_bad_value_fails_the_receipt_instead_of_polling_for_ever(fiscal_emulator, monkeypatch):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    receipt_register(receipt_id=receipt.id)
    _provider_answers(monkeypatch, {"status": "done", "payload": {**GOOD, "fn_number": "9" * 40}})
    receipt_poll(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAIL
    assert receipt.fn_number == ""
    assert receipt.last_error == "the provider's done report is not valid: fn_number is not 16 digits"
    refund.refresh_from_db()
    assert (refund.status, refund.fiscal_status) == (RefundStatus.FISCAL_FAILED, FiscalStatus.FAILED)
    assert "fn_number is not 16 digits" in refund.reason
    attempts = receipt.attempts
    receipt_poll(receipt_id=receipt.id)  # a late duplicate of the task
    receipts_sweep()
    receipt.refresh_from_db()
    assert (receipt.status, receipt.attempts) == (ReceiptStatus.FAIL, attempts)


@pytest.mark.django_db
def test_a_registration_uuid_that_is_no_identifier_fails_the_receipt(fiscal_emulator, monkeypatch):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    _provider_answers(monkeypatch, {"uuid": "../../admin?x=" + "1" * 80, "status": "wait"})
    receipt_register(receipt_id=receipt.id)
    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAIL
    assert receipt.provider_uuid == ""
    assert "uuid is not 1 to 64 letters, digits and dashes" in receipt.last_error


@pytest.mark.django_db
def test_an_overlong_fail_reason_still_fails_the_refund(fiscal_emulator, monkeypatch):
    refund = refunded_refund()
    receipt = Receipt.objects.get(refund=refund)
    receipt_register(receipt_id=receipt.id)
    error = {"code": 32, "type": "driver", "text": "ошибка кассы " * 200}
    _provider_answers(monkeypatch, {"status": "fail", "error": error})
    receipt_poll(receipt_id=receipt.id)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FISCAL_FAILED
    assert len(refund.transitions.order_by("-sequence").first().reason) <= 500
