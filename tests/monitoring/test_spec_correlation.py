"""The specification names the field that correlates a command with its response."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from events.contracts.generation import asyncapi_document
from events.contracts.specification import SPEC_DIR, SpecError, default_specification, load_specification

COMMAND_FILE = "refund.item_ready_to_refund.v1.yaml"


def test_item_ready_to_refund_is_answered_for_the_same_refund_id():
    spec = default_specification().get("refund.item_ready_to_refund")
    assert spec.response_correlation_field == "refund_id"
    assert default_specification().get("refund.update").response_correlation_field is None


def test_the_asyncapi_document_gives_both_messages_the_correlation_id():
    messages = asyncapi_document(default_specification())["components"]["messages"]
    location = "$message.payload#/data/refund_id"
    assert messages["refund_item_ready_to_refund_v1"]["correlationId"]["location"] == location
    assert messages["payment_refund_processed_v1"]["correlationId"]["location"] == location
    assert "correlationId" not in json.dumps(messages["refund_update_v1"])


@pytest.fixture
def spec_dir(tmp_path):
    target = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, target)
    return target


def edit_response(spec_dir, **changes):
    path = spec_dir / COMMAND_FILE
    spec = yaml.safe_load(path.read_text())
    spec["response"].update(changes)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("refund_request_id", "must be a required string field of payment.refund_processed v1"),
        ("items", "must be a required string field of refund.item_ready_to_refund v1"),
        (7, "response.correlation_field must be the name of a data field"),
    ],
    ids=["missing from the response", "not a string in the command", "not a name"],
)
def test_a_bad_correlation_field_is_refused_naming_the_file(spec_dir, field, message):
    edit_response(spec_dir, correlation_field=field)
    with pytest.raises(SpecError, match=COMMAND_FILE) as refused:
        load_specification(spec_dir)
    assert message in str(refused.value)


def test_an_unknown_response_key_is_refused(spec_dir):
    edit_response(spec_dir, correlate_on="refund_id")
    with pytest.raises(SpecError, match="a command needs response"):
        load_specification(spec_dir)
