import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from jsonschema import Draft202012Validator

from events.contracts.generation import CONTRACTS_DIR, GENERATED_NOTICE
from events.contracts.specification import SPEC_DIR, all_event_specs, default_specification


def test_the_checked_in_contracts_are_up_to_date(capsys):
    call_command("generate_events", "--check")
    assert "up to date" in capsys.readouterr().out


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    spec_dir, out_dir = tmp_path / "spec", tmp_path / "contracts"
    shutil.copytree(SPEC_DIR, spec_dir)
    call_command("generate_events", "--spec-dir", spec_dir, "--output-dir", out_dir)
    return spec_dir, out_dir


def _check(spec_dir: Path, out_dir: Path) -> list[str]:
    """The stale files --check lists; [] when it passes."""
    err = StringIO()
    failure = None
    try:
        call_command("generate_events", "--check", "--spec-dir", spec_dir, "--output-dir", out_dir, stderr=err)
    except CommandError as exc:
        failure = exc
    if failure is None:
        return []
    assert failure.returncode == 1
    assert "stale" in str(failure)
    return sorted(line.removeprefix(f"stale: {out_dir}/") for line in err.getvalue().splitlines())


def test_generation_writes_every_contract_and_check_then_passes(workspace):
    spec_dir, out_dir = workspace
    assert sorted(path.name for path in (out_dir / "schemas").iterdir()) == sorted(
        f"{spec.topic}.json" for spec in all_event_specs()
    )
    assert (out_dir / "dtos.py").read_text().startswith(f"# {GENERATED_NOTICE}")
    assert sorted(path.name for path in (out_dir / "vectors").iterdir()) == sorted(
        f"{spec.topic}.json" for spec in all_event_specs()
    )
    assert (out_dir / "go" / "events_gen.go").is_file()
    assert (out_dir / "php" / "src" / "RefundUpdateV1Message.php").is_file()
    assert _check(spec_dir, out_dir) == []


def test_check_names_the_files_a_spec_change_makes_stale(workspace):
    spec_dir, out_dir = workspace
    path = spec_dir / "refund.update.v1.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["data"]["properties"]["note"] = {"type": "string"}
    spec["data"]["x-examples"][0]["note"] = "a note"  # the vectors' first example has every optional field
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    assert _check(spec_dir, out_dir) == [
        "asyncapi.json",
        "dtos.py",
        "go/events_gen.go",
        "php/src/RefundUpdateV1.php",
        "schemas/refund.update.v1.json",
        "vectors/refund.update.v1.json",
    ]


def test_changing_a_field_type_without_regenerating_fails_the_check_in_every_language(workspace):
    spec_dir, out_dir = workspace
    path = spec_dir / "refund.update.v1.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["data"]["properties"]["sequence"] = {"type": "string", "minLength": 1}
    for example in spec["data"]["x-examples"]:
        example["sequence"] = str(example["sequence"])
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    assert {
        "dtos.py",
        "go/events_gen.go",
        "php/src/RefundUpdateV1.php",
        "schemas/refund.update.v1.json",
        "vectors/refund.update.v1.json",
    } <= set(_check(spec_dir, out_dir))


def test_an_example_without_an_optional_field_fails_the_command_with_the_reason(workspace):
    spec_dir, out_dir = workspace
    path = spec_dir / "refund.update.v1.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["data"]["properties"]["note"] = {"type": "string"}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    with pytest.raises(CommandError, match=r"the first example lacks /data/note"):
        call_command("generate_events", "--check", "--spec-dir", spec_dir, "--output-dir", out_dir)


def test_check_names_missing_edited_and_leftover_files(workspace):
    spec_dir, out_dir = workspace
    (out_dir / "schemas" / "refund.update.v1.json").unlink()
    (out_dir / "dtos.py").write_text("# edited by hand\n")
    (out_dir / "schemas" / "refund.gone.v1.json").write_text("{}")
    (out_dir / "php" / "src" / "RefundGoneV1.php").write_text("<?php\n")
    assert _check(spec_dir, out_dir) == [
        "dtos.py",
        "php/src/RefundGoneV1.php",
        "schemas/refund.gone.v1.json",
        "schemas/refund.update.v1.json",
    ]
    call_command("generate_events", "--spec-dir", spec_dir, "--output-dir", out_dir)
    assert _check(spec_dir, out_dir) == []
    assert not (out_dir / "schemas" / "refund.gone.v1.json").exists()
    assert not (out_dir / "php" / "src" / "RefundGoneV1.php").exists()


def test_an_invalid_spec_fails_the_command_with_the_reason(workspace):
    spec_dir, out_dir = workspace
    (spec_dir / "refund.update.v1.yaml").write_text("name: [unclosed")
    with pytest.raises(CommandError, match=r"refund\.update\.v1\.yaml: not valid YAML"):
        call_command("generate_events", "--check", "--spec-dir", spec_dir, "--output-dir", out_dir)


@pytest.mark.parametrize("spec", all_event_specs(), ids=lambda spec: spec.topic)
def test_each_generated_schema_is_draft_2020_12_and_says_it_is_generated(spec):
    schema = json.loads((CONTRACTS_DIR / "schemas" / f"{spec.topic}.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$comment"] == GENERATED_NOTICE
    assert set(schema["required"]) == {"metadata", "data"}


def test_the_asyncapi_document_has_a_channel_message_and_operation_per_event_type():
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0"
    specs = default_specification().specs
    assert {channel["address"] for channel in document["channels"].values()} == {spec.topic for spec in specs}
    operations = document["operations"]
    assert operations["send_refund_update_v1"]["action"] == "send"
    assert operations["receive_bob_refund_requested_v1"]["action"] == "receive"
    command = operations["send_refund_item_ready_to_refund_v1"]
    # A command's reply is the latest version of its response event type.
    assert command["reply"]["channel"] == {"$ref": "#/channels/payment_refund_processed_v2"}
    assert command["x-response-timeout-seconds"] == 900
    message = document["components"]["messages"]["refund_update_v1"]
    assert message["bindings"]["kafka"]["key"]["description"] == "data.order_number"
    assert message["payload"]["properties"]["metadata"]["properties"]["event_type"]["const"] == "refund.update"
    for operation in operations.values():  # every reference resolves
        for ref in [operation["channel"]["$ref"], *(m["$ref"] for m in operation["messages"])]:
            node = document
            for part in ref.removeprefix("#/").split("/"):
                node = node[part]
            assert node
