"""The compatibility checker under Confluent's BACKWARD rules for a closed content model: a reader with
the new schema must accept every message written with the old one. Each case is checked both ways."""

import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from events.contracts.compat import breaking_changes, load_reference
from events.contracts.specification import SPEC_DIR, load_specification


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    content = yaml.safe_load(path.read_text())
    change(content.get("data", content))
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True))


def add_optional_note(data):
    data["properties"]["note"] = {"type": "string", "maxLength": 100}


def add_required_note(data):
    add_optional_note(data)
    data["required"].append("note")


def remove_reason(data):
    del data["properties"]["reason"]
    data["required"].remove("reason")


def sequence_to_string(data):
    data["properties"]["sequence"] = {"type": "string", "maxLength": 20}


def sequence_to_number(data):
    data["properties"]["sequence"]["type"] = "number"


def widen_status_enum(data):
    data["properties"]["status"]["enum"].append("pending")


def make_reason_required(data):
    data["required"].append("failure_reason")


def lower_max_length(data):
    data["properties"]["failure_reason"] = {"type": "string", "minLength": 1, "maxLength": 100}


# (case, file, edit, breaking changes old -> edited, breaking changes edited -> old)
CASES = [
    ("add optional field", "refund.update.v1.yaml", add_optional_note, [], ["/data/note: field removed"]),
    (
        "add required field",
        "refund.update.v1.yaml",
        add_required_note,
        ["/data/note: required field added"],
        ["/data/note: field removed"],
    ),
    (
        "remove field",
        "refund.update.v1.yaml",
        remove_reason,
        ["/data/reason: field removed"],
        ["/data/reason: required field added"],
    ),
    (
        "change type",
        "refund.update.v1.yaml",
        sequence_to_string,
        ["/data/sequence: type changed from integer to string"],
        ["/data/sequence: type changed from string to integer"],
    ),
    (
        "widen integer to number",
        "refund.update.v1.yaml",
        sequence_to_number,
        [],
        ["/data/sequence: type changed from number to integer"],
    ),
    (
        "widen enum",
        "payment.refund_processed.v1.yaml",
        widen_status_enum,
        [],
        ["/data/status: enum narrowed: ['pending'] no longer allowed"],
    ),
    (
        "make optional field required",
        "payment.refund_processed.v1.yaml",
        make_reason_required,
        ["/data/failure_reason: optional field became required"],
        [],
    ),
    (
        "lower maxLength",
        "payment.refund_processed.v1.yaml",
        lower_max_length,
        ["/data/failure_reason: maxLength lowered from 500 to 100"],
        [],
    ),
]


@pytest.fixture
def original(tmp_path: Path) -> Path:
    folder = tmp_path / "original"
    shutil.copytree(SPEC_DIR, folder)
    return folder


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(SPEC_DIR, folder)
    return folder


def _run(against: Path | str, spec_dir: Path) -> list[str]:
    """The breaking changes the command names; [] when it passes."""
    err, out = StringIO(), StringIO()
    failure = None
    try:
        call_command("check_event_compat", "--against", str(against), "--spec-dir", spec_dir, stdout=out, stderr=err)
    except CommandError as exc:
        failure = exc
    if failure is None:
        assert "compatible with" in out.getvalue()
        return []
    assert failure.returncode == 1
    assert "needs a new version" in str(failure)
    return [line.removeprefix("BREAKING ") for line in err.getvalue().splitlines()]


@pytest.mark.parametrize(("case", "file", "edit", "forward", "backward"), CASES, ids=[case[0] for case in CASES])
def test_each_change_both_ways_round(original, edited, case, file, edit, forward, backward):
    _edit(edited, file, edit)
    subject = file.removesuffix(".v1.yaml") + " v1: "
    assert _run(original, edited) == [subject + change for change in forward]
    assert _run(edited, original) == [subject + change for change in backward]


def test_narrowing_a_shared_enum_names_every_event_type_that_uses_it(original, edited):
    _edit(edited, "_types.yaml", lambda types: types["$defs"]["PaymentMethod"]["enum"].remove("gift_card"))
    changes = _run(original, edited)
    assert "refund.update v1: /data/payment/method: enum narrowed: ['gift_card'] no longer allowed" in changes
    assert "bob.refund_requested v1: /data/payment/method: enum narrowed: ['gift_card'] no longer allowed" in changes
    # every event type and version with a payment method: v1's payment, v2's tenders
    assert len(changes) == 8
    assert _run(edited, original) == []  # widening it back is compatible


def test_an_envelope_change_is_named_once(original, edited):
    _edit(edited, "_envelope.yaml", lambda envelope: envelope["metadata"]["required"].append("flow_id"))
    assert _run(original, edited) == ["envelope: /metadata/flow_id: optional field became required"]


def test_null_taken_away_is_breaking_and_null_allowed_is_not(original, edited):
    reason = {"type": "string", "minLength": 1, "maxLength": 500}
    _edit(edited, "refund.update.v1.yaml", lambda data: data["properties"].update(reason=reason))
    assert _run(original, edited) == ["refund.update v1: /data/reason: null is no longer allowed"]
    assert _run(edited, original) == []


def test_changing_topic_or_key_or_removing_a_version_is_breaking(original, edited):
    path = edited / "refund.update.v1.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["partition_key"] = "refund_request_id"
    path.write_text(yaml.safe_dump(spec))
    (edited / "refund.money_refunded.v1.yaml").unlink()
    assert _run(original, edited) == [
        "refund.money_refunded v1: /: the published version was removed",
        "refund.update v1: /: partition_key changed from 'order_number' to 'refund_request_id'",
    ]


def test_a_breaking_change_as_a_new_version_passes(original, edited):
    spec = yaml.safe_load((edited / "refund.update.v1.yaml").read_text())
    spec.update(version=3, topic="refund.update.v3")
    add_required_note(spec["data"])
    remove_reason(spec["data"])
    (edited / "refund.update.v3.yaml").write_text(yaml.safe_dump(spec))
    assert _run(original, edited) == []


def test_against_a_git_ref_of_this_repository(edited):
    _edit(edited, "refund.update.v1.yaml", add_required_note)
    assert _run("HEAD", edited) == ["refund.update v1: /data/note: required field added"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def test_load_reference_reads_the_spec_at_a_ref_and_knows_a_ref_without_one(tmp_path):
    repo = tmp_path / "repo"
    (repo / "events").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "README").write_text("before the spec\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "no spec yet")
    _git(repo, "tag", "before")
    shutil.copytree(SPEC_DIR, repo / "events" / "spec")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "spec")
    shutil.rmtree(repo / "events" / "spec")  # the ref is read from git, not from the work tree

    at_head = load_reference("HEAD", repo_dir=repo)
    assert at_head is not None
    assert breaking_changes(at_head, load_specification(SPEC_DIR)) == []
    assert load_reference("before", repo_dir=repo) is None
    with pytest.raises(ValueError, match="neither a directory nor a git ref"):
        load_reference("no-such-ref", repo_dir=repo)


def test_the_command_refuses_an_unknown_reference():
    with pytest.raises(CommandError, match="neither a directory nor a git ref"):
        call_command("check_event_compat", "--against", "no-such-ref-anywhere")
