"""The provider client against the emulator over real HTTP, with its token cached in the real Redis."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache

from events.messaging.embedded_broker import free_port
from fiscalization.provider import AtolClient, ProviderRejected, ProviderUnavailable, Report, encode_body
from tests.fiscal.samples import sell_refund_body


def client(**changes) -> AtolClient:
    options = {
        "base_url": settings.FISCAL_PROVIDER_URL,
        "login": settings.FISCAL_LOGIN,
        "password": settings.FISCAL_PASSWORD,
        "group_code": settings.FISCAL_GROUP_CODE,
        "timeout": 5,
        "token_ttl": settings.FISCAL_TOKEN_TTL_SECONDS,
    } | changes
    return AtolClient(**options)


def final_report(provider: AtolClient, uuid: str) -> Report:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = provider.report(uuid)
        if report.status != "wait":
            return report
        time.sleep(0.02)
    raise AssertionError("the document stayed in wait")


def test_one_token_serves_every_client_through_the_redis_cache(fiscal_emulator, redis_client):
    AtolClient.from_settings().sell_refund(sell_refund_body("a"))
    AtolClient.from_settings().sell_refund(sell_refund_body("b"))
    assert fiscal_emulator.stats()["tokens_issued"] == 1
    token = cache.get(AtolClient.from_settings().token_cache_key)
    assert token
    assert any(b"fiscal:token:" in key for key in redis_client.keys("*"))
    ttl = redis_client.ttl(next(key for key in redis_client.keys("*") if b"fiscal:token:" in key))
    assert settings.FISCAL_TOKEN_TTL_SECONDS - 120 < ttl <= settings.FISCAL_TOKEN_TTL_SECONDS


def test_an_expired_token_is_refreshed_on_code_11_and_the_request_goes_through(fiscal_emulator):
    provider = client()
    provider.sell_refund(sell_refund_body("a"))
    fiscal_emulator.expire_tokens()
    registration = provider.sell_refund(sell_refund_body("b"))
    assert registration.uuid
    stats = fiscal_emulator.stats()
    assert stats["tokens_issued"] == 2
    assert stats["external_ids"]["b"]["registrations"] == 1


def test_a_registration_is_waited_for_then_done_with_its_attributes(fiscal_emulator):
    provider = client()
    registration = provider.sell_refund(sell_refund_body())
    assert not registration.duplicate
    assert provider.report(registration.uuid).status == "wait"
    report = final_report(provider, registration.uuid)
    assert report.status == "done"
    assert int(report.fiscal.fiscal_document_number) >= 1
    assert len(report.fiscal.fn_number) == 16
    assert report.fiscal.ofd_receipt_url.startswith("https://")
    assert not report.is_timeout


def test_code_33_is_not_an_error_it_gives_the_first_uuid(fiscal_emulator):
    provider = client()
    first = provider.sell_refund(sell_refund_body())
    again = provider.sell_refund(sell_refund_body())
    assert again.duplicate
    assert again.uuid == first.uuid


def test_a_lost_response_is_retryable_and_the_resend_finds_the_registration(fiscal_emulator):
    provider = client()
    provider.sell_refund(sell_refund_body("warm-up"))
    fiscal_emulator.configure(error_rate=1, lost_response_share=1)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        provider.sell_refund(sell_refund_body())
    fiscal_emulator.configure(error_rate=0)
    registration = provider.sell_refund(sell_refund_body())
    assert registration.duplicate
    assert fiscal_emulator.stats()["external_ids"]["rt-sample-1"]["registrations"] == 1


def test_code_34_means_ask_again_later(fiscal_emulator):
    assert client().report("00000000-0000-0000-0000-000000000000").status == "wait"


@pytest.mark.parametrize(("fail_type", "is_timeout"), [("timeout", True), ("driver", False)])
def test_a_fail_carries_its_reason_and_says_whether_it_was_a_timeout(fiscal_emulator, fail_type, is_timeout):
    fiscal_emulator.configure(fail_rate=1, fail_type=fail_type)
    provider = client()
    report = final_report(provider, provider.sell_refund(sell_refund_body()).uuid)
    assert report.status == "fail"
    assert report.error_type == fail_type
    assert report.error_text
    assert report.is_timeout is is_timeout


def test_a_body_the_provider_refuses_is_final_and_carries_the_reason(fiscal_emulator):
    body = sell_refund_body()
    body["receipt"]["total"] = Decimal("1.00")
    with pytest.raises(ProviderRejected) as caught:
        client().sell_refund(body)
    assert caught.value.status == 400
    assert caught.value.code == 32
    assert "receipt.total: 1.0 is not the sum of the items, 3299.98" in caught.value.text


def test_5xx_is_retryable(fiscal_emulator):
    fiscal_emulator.configure(error_rate=1, lost_response_share=0)
    with pytest.raises(ProviderUnavailable, match="HTTP 500, emulated provider failure"):
        client().sell_refund(sell_refund_body())


def test_a_slow_provider_is_a_retryable_timeout(fiscal_emulator):
    fiscal_emulator.configure(latency_ms=1000)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        client(timeout=0.3).sell_refund(sell_refund_body())


def test_a_provider_that_is_not_there_is_retryable(fiscal_emulator):
    with pytest.raises(ProviderUnavailable, match="Connection refused"):
        client(base_url=f"http://127.0.0.1:{free_port()}/possystem/v5").sell_refund(sell_refund_body())


def test_refused_credentials_are_retryable_not_a_failed_receipt(fiscal_emulator):
    with pytest.raises(ProviderUnavailable, match="getToken failed: HTTP 401, wrong login or password"):
        client(password="wrong").sell_refund(sell_refund_body())


def test_money_goes_on_the_wire_as_exact_json_numbers():
    wire = encode_body({"sum": Decimal("999999999999.99"), "price": Decimal("0.10"), "total": Decimal("1499.00")})
    assert wire == b'{"sum": 999999999999.99, "price": 0.1, "total": 1499.0}'
