"""The provider emulator over real HTTP: the ATOL v5 behaviours the client and the worker rely on."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from events.messaging.embedded_broker import free_port
from fiscalization.provider import encode_body
from tests.fiscal.samples import gs1m, marked_sell_refund_body, sell_refund_body, sell_refund_correction_body

GROUP = "group-a"


def call(url: str, method: str = "GET", body: Any = None, token: str = "", raw: bytes | None = None):
    data = raw if raw is not None else (encode_body(body) if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Token": token} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our loopback emulator
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def token_of(emulator) -> str:
    status, answer = call(f"{emulator.api_url}/getToken", "POST", {"login": "refundtool", "pass": "refundtool"})
    assert status == 200, answer
    return answer["token"]


def register(emulator, body: dict, token: str, group: str = GROUP):
    return call(f"{emulator.api_url}/{group}/sell_refund", "POST", body, token)


def report(emulator, uuid: str, token: str):
    return call(f"{emulator.api_url}/{GROUP}/report/{uuid}", token=token)


def report_when_final(emulator, uuid: str, token: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, answer = report(emulator, uuid, token)
        assert status == 200, answer
        if answer["status"] != "wait":
            return answer
        time.sleep(0.02)
    raise AssertionError("the document stayed in wait")


def test_get_token_checks_credentials(fiscal_emulator):
    assert token_of(fiscal_emulator)
    status, answer = call(f"{fiscal_emulator.api_url}/getToken", "POST", {"login": "refundtool", "pass": "wrong"})
    assert status == 401
    assert answer["error"]["code"] == 12


def test_a_request_without_a_valid_token_is_refused_with_code_11(fiscal_emulator):
    status, answer = register(fiscal_emulator, sell_refund_body(), token="not-a-token")
    assert (status, answer["error"]["code"]) == (401, 11)
    assert fiscal_emulator.stats()["documents"] == 0


def test_a_token_expires_after_its_ttl(fiscal_emulator):
    fiscal_emulator.configure(token_ttl=0.2)
    token = token_of(fiscal_emulator)
    assert register(fiscal_emulator, sell_refund_body("a"), token)[0] == 200
    time.sleep(0.25)
    status, answer = register(fiscal_emulator, sell_refund_body("b"), token)
    assert (status, answer["error"]["code"]) == (401, 11)


def test_a_registration_waits_then_is_done_with_fiscal_attributes(fiscal_emulator):
    token = token_of(fiscal_emulator)
    status, answer = register(fiscal_emulator, sell_refund_body(), token)
    assert status == 200
    assert answer["status"] == "wait"
    assert answer["error"] is None
    assert report(fiscal_emulator, answer["uuid"], token)[1]["status"] == "wait"
    done = report_when_final(fiscal_emulator, answer["uuid"], token)
    assert done["status"] == "done"
    assert done["external_id"] == "rt-sample-1"
    payload = done["payload"]
    for name in ("fn_number", "fiscal_document_number", "fiscal_document_attribute", "receipt_datetime"):
        assert payload[name], name
    assert payload["ofd_receipt_url"].startswith("https://")
    assert payload["total"] == 3299.98
    assert report(fiscal_emulator, answer["uuid"], token)[1]["payload"] == payload


def test_a_repeated_external_id_answers_code_33_with_the_first_uuid(fiscal_emulator):
    token = token_of(fiscal_emulator)
    first = register(fiscal_emulator, sell_refund_body("rt-dup"), token)[1]
    status, again = register(fiscal_emulator, sell_refund_body("rt-dup"), token)
    assert status == 409
    assert again["error"]["code"] == 33
    assert again["uuid"] == first["uuid"]
    other_group = register(fiscal_emulator, sell_refund_body("rt-dup"), token, group="group-b")[1]
    assert other_group["uuid"] != first["uuid"]
    stats = fiscal_emulator.stats()
    assert stats["external_ids"]["rt-dup"] == {"sell_refund_requests": 3, "registrations": 2}
    assert stats["duplicates"] == 1
    assert stats["documents"] == 2


@pytest.mark.parametrize(
    ("fail_type", "code"),
    [("driver", 41), ("timeout", 40)],
)
def test_a_share_of_documents_ends_in_fail_with_an_error_of_the_configured_type(fiscal_emulator, fail_type, code):
    fiscal_emulator.configure(fail_rate=1, fail_type=fail_type)
    token = token_of(fiscal_emulator)
    uuid = register(fiscal_emulator, sell_refund_body(), token)[1]["uuid"]
    answer = report_when_final(fiscal_emulator, uuid, token)
    assert answer["status"] == "fail"
    assert answer["payload"] is None
    assert (answer["error"]["type"], answer["error"]["code"]) == (fail_type, code)


def test_an_unknown_uuid_has_no_state_yet_code_34(fiscal_emulator):
    status, answer = report(fiscal_emulator, "00000000-0000-0000-0000-000000000000", token_of(fiscal_emulator))
    assert (status, answer["error"]["code"]) == (404, 34)


def test_injected_errors_before_registration_register_nothing(fiscal_emulator):
    token = token_of(fiscal_emulator)
    fiscal_emulator.configure(error_rate=1, lost_response_share=0)
    status, answer = register(fiscal_emulator, sell_refund_body(), token)
    assert status == 500
    assert answer["error"]["text"] == "emulated provider failure"
    stats = fiscal_emulator.stats()
    assert stats["documents"] == 0
    assert stats["injected_errors"] == 1


def test_a_lost_response_registers_the_document_and_the_resend_gets_its_uuid(fiscal_emulator):
    token = token_of(fiscal_emulator)
    fiscal_emulator.configure(error_rate=1, lost_response_share=1)
    assert register(fiscal_emulator, sell_refund_body(), token)[0] == 500
    fiscal_emulator.configure(error_rate=0)
    status, answer = register(fiscal_emulator, sell_refund_body(), token)
    assert (status, answer["error"]["code"]) == (409, 33)
    stats = fiscal_emulator.stats()
    assert stats["documents"] == 1
    assert stats["lost_responses"] == 1
    assert stats["external_ids"]["rt-sample-1"] == {"sell_refund_requests": 2, "registrations": 1}


def test_latency_delays_every_provider_answer(fiscal_emulator):
    fiscal_emulator.configure(latency_ms=300)
    started = time.monotonic()
    token_of(fiscal_emulator)
    assert time.monotonic() - started >= 0.3


def _without(path: str):
    def mutate(body: dict) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


def _set(path: str, value: Any):
    def mutate(body: dict) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_without("external_id"), "external_id: a non-empty string is required"),
        (_set("external_id", "x" * 129), "external_id: at most 128 characters"),
        (_set("timestamp", "2026-02-01T10:00:00"), "timestamp: dd.mm.yyyy HH:MM:SS is required"),
        (_set("receipt.client", {}), "receipt.client: an email or a phone is required"),
        (_set("receipt.client", {"phone": "89161234567"}), "receipt.client.phone"),
        (_set("receipt.company.inn", "123"), "receipt.company.inn"),
        (_set("receipt.company.sno", "envd"), "receipt.company.sno"),
        (_set("receipt.items", []), "receipt.items: from 1 to 100 items are required"),
        (lambda body: body["receipt"]["items"].extend(body["receipt"]["items"] * 50), "from 1 to 100 items"),
        (_set("receipt.items.0.name", "n" * 129), "receipt.items[0].name: at most 128 characters"),
        (_set("receipt.items.0.sum", 2999.99), "receipt.items[0].sum: 2999.99 is not price x quantity, 2999.98"),
        (_set("receipt.items.0.price", "1499.99"), "receipt.items[0].price: a number is required"),
        (_set("receipt.items.0.price", 1499.999), "receipt.items[0].price: at most 2 decimal places"),
        (_set("receipt.items.0.quantity", 0), "receipt.items[0].quantity: must be positive"),
        (_without("receipt.items.0.measure"), "receipt.items[0].measure: an integer is required"),
        (_set("receipt.items.0.payment_method", "gift"), "receipt.items[0].payment_method: unknown"),
        (_set("receipt.items.0.payment_object", 0), "receipt.items[0].payment_object"),
        (_set("receipt.items.0.vat", {"type": "vat18"}), "receipt.items[0].vat.type: unknown VAT type 'vat18'"),
        (_set("receipt.total", 3300), "receipt.total: 3300 is not the sum of the items, 3299.98"),
        (_set("receipt.payments", [{"type": 1, "sum": 3000}]), "they add up to 3000, not to the total 3299.98"),
        (_set("receipt.payments", [{"type": 12, "sum": 3299.98}]), "receipt.payments[0].type"),
        (
            _set("receipt.vats", [{"type": "vat22", "sum": 595.07}]),
            "receipt.vats: vat22 is 595.07, the items give 595.08",
        ),
        (_set("receipt.vats", []), "receipt.vats: vat22 is missing (595.08)"),
        (_set("receipt.vats", [{"type": "vat10", "sum": 1}]), "receipt.vats[0].type: no item has VAT type 'vat10'"),
    ],
)
def test_a_bad_body_is_refused_with_code_32_naming_the_problem(fiscal_emulator, mutate, problem):
    body = sell_refund_body()
    mutate(body)
    status, answer = register(fiscal_emulator, body, token_of(fiscal_emulator))
    assert status == 400
    assert answer["error"]["code"] == 32
    assert problem in answer["error"]["text"]
    assert fiscal_emulator.stats()["documents"] == 0


def test_a_body_that_is_not_json_is_refused(fiscal_emulator):
    status, answer = call(f"{fiscal_emulator.api_url}/{GROUP}/sell_refund", "POST", raw=b"{not json")
    assert status == 400
    assert "not JSON" in answer["error"]["text"]


def test_an_unknown_endpoint_is_404(fiscal_emulator):
    assert call(f"{fiscal_emulator.api_url}/{GROUP}/sell")[0] == 404
    assert call(f"{fiscal_emulator.root}/emulator/nothing")[0] == 404


@pytest.mark.parametrize(
    ("config", "problem"),
    [({"error_rate": 2}, "error_rate must be a number from 0 to 1"), ({"speed": 1}, "unknown config keys: speed")],
)
def test_a_bad_control_config_is_refused_and_changes_nothing(fiscal_emulator, config, problem):
    status, answer = call(f"{fiscal_emulator.root}/emulator/config", "POST", config)
    assert status == 400
    assert problem in answer["error"]
    assert fiscal_emulator.stats()["config"]["error_rate"] == 0


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--error-rate", "1.5"], "error_rate must be a number from 0 to 1"),
        (["--latency-ms", "-1"], "latency_ms must be a non-negative number"),
    ],
)
def test_the_command_refuses_bad_options(argv, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("fiscal_emulator", "--port", str(free_port()), *argv)


def test_the_command_refuses_a_port_in_use(emulator_process):
    port = int(emulator_process.root.rsplit(":", 1)[1])
    with pytest.raises(CommandError, match=r"cannot listen on 127\.0\.0\.1"):
        call_command("fiscal_emulator", "--port", str(port))


# --- FFD 1.2 marks, split payments and corrections (issue 22) ----------------------------------------


def register_correction(emulator, body: dict, token: str):
    return call(f"{emulator.api_url}/{GROUP}/sell_refund_correction", "POST", body, token)


def test_a_marked_split_receipt_is_registered_and_its_body_can_be_read_back(fiscal_emulator):
    body = marked_sell_refund_body()
    status, answer = register(fiscal_emulator, body, token_of(fiscal_emulator))
    assert status == 200, answer
    registered = fiscal_emulator.registered("rt-sample-marked")
    assert registered["operation"] == "sell_refund"
    assert registered["uuid"] == answer["uuid"]
    assert registered["body"] == json.loads(encode_body(body))


def test_an_unknown_external_id_has_no_registered_body(fiscal_emulator):
    with pytest.raises(urllib.error.HTTPError) as caught:
        fiscal_emulator.registered("never-sent")
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (
            _set("receipt.items.0.mark_code", {"gs1m": "not base64!"}),
            "items[0].mark_code.gs1m: not the base64 of a GS1",
        ),
        # base64, but of an EAN-13 barcode: no (01) GTIN and (21) serial
        (_set("receipt.items.0.mark_code", {"gs1m": "NDYwMTIzNDU2Nzg5MA=="}), "items[0].mark_code.gs1m"),
        # (01) whose check digit is wrong
        (_set("receipt.items.0.mark_code", {"gs1m": "MDEwNDY5MDEyMzQ1Njc4NDIxc2hvZS0x"}), "items[0].mark_code.gs1m"),
        (_set("receipt.items.0.mark_code", {"barcode": "1"}), "items[0].mark_code: exactly one of"),
        (_set("receipt.items.0.mark_code", {"gs1m": gs1m("x"), "short": "1"}), "items[0].mark_code: exactly one of"),
        (_without("receipt.items.0.mark_processing_mode"), 'items[0].mark_processing_mode: "0" is required'),
        (_set("receipt.items.0.payment_object", 1), "items[0].payment_object: 31 or 33 is required"),
        (_without("receipt.items.0.mark_code"), "items[0].mark_code: required for payment_object 33"),
        (_set("receipt.items.2.mark_processing_mode", "0"), "items[2].mark_processing_mode: only a position with"),
        (_set("receipt.items.0.mark_quantity", {"numerator": 3, "denominator": 2}), "items[0].mark_quantity"),
        (_set("receipt.items.0.sectoral_item_props", [{"federal_id": "30"}]), "sectoral_item_props[0].federal_id"),
        (_set("receipt.payments", [{"type": 1, "sum": 2299.98}, {"type": 2, "sum": 999}]), "they add up to 3298.98"),
    ],
)
def test_a_bad_marked_or_split_body_is_refused_with_code_32(fiscal_emulator, mutate, problem):
    body = marked_sell_refund_body()
    mutate(body)
    status, answer = register(fiscal_emulator, body, token_of(fiscal_emulator))
    assert status == 400
    assert answer["error"]["code"] == 32
    assert problem in answer["error"]["text"]
    assert fiscal_emulator.stats()["documents"] == 0


def test_a_correction_is_registered_done_and_idempotent_on_its_external_id(fiscal_emulator):
    token = token_of(fiscal_emulator)
    body = sell_refund_correction_body()
    status, first = register_correction(fiscal_emulator, body, token)
    assert status == 200, first
    assert report_when_final(fiscal_emulator, first["uuid"], token)["status"] == "done"
    status, again = register_correction(fiscal_emulator, body, token)
    assert (status, again["error"]["code"], again["uuid"]) == (409, 33, first["uuid"])
    registered = fiscal_emulator.registered("rt-sample-c1")
    assert registered["operation"] == "sell_refund_correction"
    assert registered["body"]["correction"]["correction_info"] == {
        "type": "self",
        "base_date": "02.02.2026",
        "base_number": "17",
    }


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_without("correction.correction_info"), "correction.correction_info: an object is required"),
        (_set("correction.correction_info.type", "own"), "correction.correction_info.type: one of"),
        (_set("correction.correction_info.base_date", "2026-02-02"), "correction_info.base_date: dd.mm.yyyy"),
        (
            lambda body: body["correction"]["correction_info"].update(type="instruction", base_number=None),
            "correction.correction_info.base_number: a non-empty string is required",
        ),
        (_set("correction.total", 1), "correction.total: 1 is not the sum of the items"),
        (_set("correction.items.0.mark_code", {"gs1m": "AAAA"}), "correction.items[0].mark_code.gs1m"),
        (lambda body: body.update(receipt=body.pop("correction")), "correction: an object is required"),
    ],
)
def test_a_bad_correction_is_refused_with_code_32(fiscal_emulator, mutate, problem):
    body = sell_refund_correction_body()
    mutate(body)
    status, answer = register_correction(fiscal_emulator, body, token_of(fiscal_emulator))
    assert status == 400
    assert answer["error"]["code"] == 32
    assert problem in answer["error"]["text"]
    assert fiscal_emulator.stats()["documents"] == 0
