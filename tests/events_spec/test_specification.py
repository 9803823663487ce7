import shutil
from pathlib import Path

import pytest
import yaml

from events.contracts.specification import (
    SPEC_DIR,
    SpecError,
    UnknownEventType,
    all_event_specs,
    default_specification,
    get_event_spec,
    load_specification,
    spec_for_topic,
)

VERSION_1 = {
    "bob.refund_requested": "bob",
    "bob.refund_cancelled": "bob",
    "refund.item_ready_to_refund": "refundtool",
    "payment.refund_processed": "payment",
    "refund.money_refunded": "refundtool",
    "refund.update": "refundtool",
}


def test_every_event_type_of_version_1_is_specified_with_its_topic_owner_and_key():
    specs = {spec.name: spec for spec in all_event_specs() if spec.version == 1}
    assert set(specs) == set(VERSION_1)
    for name, owner in VERSION_1.items():
        spec = specs[name]
        assert (spec.version, spec.topic, spec.owner) == (1, f"{name}.v1", owner)
        assert spec.partition_key == "order_number"
        assert spec.description
        assert spec.data_schema["additionalProperties"] is False


def test_the_command_names_its_response_and_timeout_and_events_do_not():
    command = get_event_spec("refund.item_ready_to_refund")
    assert command.category == "command"
    assert (command.response_event_type, command.response_timeout_seconds) == ("payment.refund_processed", 900)
    event = get_event_spec("refund.update")
    assert (event.category, event.response_event_type, event.response_timeout_seconds) == ("event", None, None)


def test_lookups_by_name_version_and_topic_and_their_errors():
    spec = get_event_spec("refund.update", 1)
    assert get_event_spec("refund.update") is get_event_spec("refund.update", 2)  # the latest
    assert spec_for_topic("refund.update.v1") is spec
    assert spec.key_for({"order_number": "ORD-1"}) == "ORD-1"
    with pytest.raises(UnknownEventType, match=r"refund\.nope"):
        get_event_spec("refund.nope")
    with pytest.raises(UnknownEventType, match="v9"):
        get_event_spec("refund.update", 9)
    with pytest.raises(UnknownEventType, match=r"refund\.update\.v9"):
        spec_for_topic("refund.update.v9")


def test_the_specification_is_loaded_once():
    assert default_specification() is default_specification()


def test_shared_types_are_inlined_and_metadata_is_pinned_to_the_event_type():
    schema = get_event_spec("bob.refund_requested", 1).message_schema
    assert "$ref" not in str(schema)
    item = schema["properties"]["data"]["properties"]["items"]["items"]
    assert item["title"] == "Item"
    assert item["properties"]["unit_price"]["pattern"] == "^[0-9]{1,12}(\\.[0-9]{1,2})?$"
    metadata = schema["properties"]["metadata"]["properties"]
    assert metadata["event_type"]["const"] == "bob.refund_requested"
    assert metadata["version"]["const"] == 1
    assert "x-python-type" not in str(schema)


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, folder)
    return folder


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    content = yaml.safe_load(path.read_text())
    change(content)
    path.write_text(yaml.safe_dump(content, sort_keys=False))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda spec: spec.update(topic="refund.update"), "topic must be refund.update.v1"),
        (lambda spec: spec.update(category="query"), "category must be"),
        (lambda spec: spec.update(colour="red"), "unknown keys"),
        (lambda spec: spec.pop("owner"), "missing keys"),
        (lambda spec: spec.update(partition_key="sequence"), "partition_key 'sequence'"),
        (lambda spec: spec["data"].pop("additionalProperties"), "needs 'additionalProperties: false'"),
        (lambda spec: spec["data"]["properties"]["fiscal"].pop("additionalProperties"), "/properties/fiscal"),
        (lambda spec: spec["data"]["properties"]["status"].update({"$ref": "#/$defs/Nope"}), "names no type"),
        (lambda spec: spec["data"]["properties"]["sequence"].update(minimum="one"), "not a valid JSON Schema"),
        (lambda spec: spec.update(response={"event_type": "refund.update", "timeout_seconds": 5}), "only a command"),
    ],
)
def test_a_malformed_spec_file_is_refused_with_its_name_and_the_problem(spec_copy, change, error):
    _edit(spec_copy, "refund.update.v1.yaml", change)
    with pytest.raises(SpecError, match=r"refund\.update\.v1\.yaml") as raised:
        load_specification(spec_copy)
    assert error in str(raised.value)


def test_a_command_must_name_a_specified_response(spec_copy):
    _edit(spec_copy, "refund.item_ready_to_refund.v1.yaml", lambda spec: spec.pop("response"))
    with pytest.raises(SpecError, match="a command needs response"):
        load_specification(spec_copy)
    _edit(
        spec_copy,
        "refund.item_ready_to_refund.v1.yaml",
        lambda spec: spec.update(response={"event_type": "payment.nope", "timeout_seconds": 900}),
    )
    with pytest.raises(SpecError, match=r"'payment\.nope' is not specified"):
        load_specification(spec_copy)


def test_a_file_must_be_named_after_its_topic(spec_copy):
    (spec_copy / "refund.update.v1.yaml").rename(spec_copy / "refund_update.yaml")
    with pytest.raises(SpecError, match=r"must be named refund.update.v1.yaml"):
        load_specification(spec_copy)


def test_a_new_version_is_a_new_file_and_topic_and_becomes_the_latest(spec_copy):
    content = yaml.safe_load((spec_copy / "refund.update.v1.yaml").read_text())
    content.update(version=2, topic="refund.update.v2")
    (spec_copy / "refund.update.v2.yaml").write_text(yaml.safe_dump(content))
    specification = load_specification(spec_copy)
    assert specification.get("refund.update").topic == "refund.update.v2"
    assert specification.get("refund.update", 1).topic == "refund.update.v1"
    assert specification.versions("refund.update") == [1, 2]
