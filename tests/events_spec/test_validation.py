import copy
import uuid

import pytest

from events.contracts import rules
from events.contracts.errors import FieldError
from events.contracts.specification import UnknownEventType, all_event_specs
from events.contracts.validation import validate_message
from tests.events_spec.samples import sample_message


@pytest.mark.parametrize("event_type", sorted({spec.name for spec in all_event_specs()}))
def test_a_valid_message_of_every_event_type_passes(event_type):
    assert validate_message(event_type, sample_message(event_type)) == []


def _errors(event_type, change):
    message = sample_message(event_type)
    change(message)
    return {(error.path, error.message) for error in validate_message(event_type, message)}


def test_a_missing_field_is_reported_at_its_own_path():
    errors = _errors("bob.refund_requested", lambda message: message["metadata"].pop("eid"))
    assert errors == {("/metadata/eid", "is required")}


def test_each_unknown_field_is_reported_because_the_content_model_is_closed():
    def change(message):
        message["data"]["colour"] = "red"
        message["data"]["items"][1]["discount"] = "5"

    errors = _errors("bob.refund_requested", change)
    assert errors == {
        ("/data/colour", "is not a field of this event type"),
        ("/data/items/1/discount", "is not a field of this event type"),
    }


def test_every_error_of_a_message_comes_back_with_a_json_pointer():
    def change(message):
        message["data"]["items"][0]["quantity"] = "2"
        message["data"]["refund_request_id"] = "not-a-uuid"
        message["data"]["requested_at"] = "2026-03-02T10:00:00"  # no offset
        message["data"]["customer"]["email"] = "not-an-email"
        message["data"]["payment"]["method"] = "cheque"
        message["metadata"]["country"] = "DE"

    paths = {path for path, _ in _errors("bob.refund_requested", change)}
    assert paths == {
        "/data/items/0/quantity",
        "/data/refund_request_id",
        "/data/requested_at",
        "/data/customer/email",
        "/data/payment/method",
        "/metadata/country",
    }


@pytest.mark.parametrize("amount", ["10.001", "-10", "1e3", "10.", "10.00\n", " 10", "1,50", 10])
def test_money_is_a_decimal_string_with_at_most_two_places(amount):
    errors = _errors("bob.refund_requested", lambda message: message["data"].update(amount=amount))
    assert {path for path, _ in errors} == {"/data/amount"}


def test_money_written_by_refund_tool_has_exactly_two_places():
    errors = _errors("refund.update", lambda message: message["data"].update(amount="1998.5"))
    assert {path for path, _ in errors} == {"/data/amount"}


def test_a_customer_needs_an_email_or_a_phone():
    errors = _errors("bob.refund_requested", lambda message: message["data"].update(customer={}))
    assert {path for path, _ in errors} == {"/data/customer"}


def test_nullable_fields_take_null_or_their_type_only():
    assert _errors("refund.update", lambda message: message["data"].update(previous_status=None)) == set()
    errors = _errors("refund.update", lambda message: message["data"].update(previous_status="lost"))
    assert {path for path, _ in errors} == {"/data/previous_status"}


def test_error_messages_carry_no_values_of_the_message():
    errors = _errors("bob.refund_requested", lambda message: message["data"]["customer"].update(email="ivan.at.mail"))
    assert errors
    assert not any("ivan" in text for _, text in errors)


def test_metadata_must_name_the_event_type_and_a_known_version():
    errors = _errors("refund.update", lambda message: message["metadata"].update(event_type="refund.money_refunded"))
    assert errors == {("/metadata/event_type", "must be 'refund.update'")}
    errors = _errors("refund.update", lambda message: message["metadata"].update(version=7))
    assert ("/metadata/version", "must be 2") in errors  # an unknown version is checked as the latest


def test_non_objects_and_unknown_event_types():
    assert validate_message("refund.update", ["not", "an", "object"]) == [
        FieldError(path="", message="an event must be a JSON object")
    ]
    assert "/metadata" in {error.path for error in validate_message("refund.update", {"data": {}})}
    with pytest.raises(UnknownEventType):
        validate_message("refund.nope", sample_message("refund.update"))


@pytest.fixture
def registered_rules(monkeypatch):
    """An empty rule registry for the test, so the apps' own rules stay out of it."""
    monkeypatch.setattr(rules, "_rules", type(rules._rules)(list))
    return rules


def test_business_rules_run_after_the_schema_passed_and_only_then(registered_rules):
    seen = []

    def amount_rule(data):
        seen.append(data["order_number"])
        return [FieldError(path="/data/amount", message="does not equal the items plus delivery")]

    registered_rules.register_business_rule("bob.refund_requested", amount_rule)
    message = sample_message("bob.refund_requested")
    assert validate_message("bob.refund_requested", message) == [
        FieldError(path="/data/amount", message="does not equal the items plus delivery")
    ]
    broken = copy.deepcopy(message)
    broken["metadata"]["eid"] = str(uuid.uuid4()) + "x"
    assert [error.path for error in validate_message("bob.refund_requested", broken)] == ["/metadata/eid"]
    assert seen == ["ORD-100001"]


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\r", "\x1f"])
@pytest.mark.parametrize(
    ("event_type", "path"),
    [
        ("bob.refund_requested", "/data/items/0/name"),
        ("bob.refund_requested", "/data/items/1/reason"),
        ("bob.refund_cancelled", "/data/reason"),
    ],
)
def test_a_control_character_in_any_text_field_is_refused_at_its_path(event_type, path, control):
    def change(message):
        *parents, last = path.strip("/").split("/")
        node = message
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = f"before{control}after"

    assert _errors(event_type, change) == {(path, "must not contain control characters (tab and newline are allowed)")}


def test_tab_and_newline_are_text():
    def change(message):
        message["data"]["items"][0]["reason"] = "line one\n\tline two"

    assert _errors("bob.refund_requested", change) == set()


def test_every_text_with_a_control_character_is_named_by_its_path_in_order():
    from events.contracts.validation import control_character_errors

    value = {
        "a/b": "x\x00",
        "n": 1,
        "ok": "fine\n",
        "list": ["fine", "bad\x1b", {"deep": ["\x07"], "t~": "\x01"}, None, 2.5],
        "empty": {},
    }
    assert [error.path for error in control_character_errors(value)] == [
        "/a~1b",
        "/list/1",
        "/list/2/deep/0",
        "/list/2/t~0",
    ]
    assert [error.path for error in control_character_errors("\x00")] == [""]
    assert control_character_errors({"a": ["b", {"c": "d"}], "e": True}) == []
