"""The compatibility checker: a published version may change only in backward-compatible ways.

The rules are Confluent's BACKWARD rules for JSON Schema with a closed content model: a consumer
that reads with the new schema must accept every message written with the old one. So the new
schema may add optional fields, widen types and enums and loosen bounds; it may not add required
fields, remove fields (a closed model would reject old messages that carry them), change or narrow
types, narrow enums or tighten bounds. Anything else is a new version: a new file and a new topic.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from events.contracts.specification import (
    ENVELOPE_FILE,
    SPEC_DIR,
    Specification,
    UnknownEventType,
    load_specification,
)

PROJECT_DIR = SPEC_DIR.parents[2]
# Where the specification lived at a git ref: here now, in events/spec/ before the contracts room.
SPEC_PATHS_IN_REPO = (SPEC_DIR.relative_to(PROJECT_DIR).as_posix(), "events/spec")
_NULL = {"type": "null"}
_COMPOSITIONS = ("anyOf", "oneOf", "allOf", "not", "if", "then", "else")
_SPEC_ATTRIBUTES = ("topic", "category", "partition_key", "response_event_type")


@dataclass(frozen=True, slots=True)
class BreakingChange:
    subject: str  # "envelope" or "<event type> v<version>"
    path: str  # where in the message, "*" standing for every array element
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.path or '/'}: {self.message}"


def breaking_changes(old: Specification, new: Specification) -> list[BreakingChange]:
    """Every change from `old` to `new` that a reader with the new schema could not take."""
    changes = [
        BreakingChange("envelope", path, message)
        for path, message in schema_changes(old.metadata_schema, new.metadata_schema, "/metadata")
    ]
    for old_spec in old.specs:
        subject = f"{old_spec.name} v{old_spec.version}"
        try:
            new_spec = new.get(old_spec.name, old_spec.version)
        except UnknownEventType:
            changes.append(BreakingChange(subject, "", "the published version was removed"))
            continue
        for attribute in _SPEC_ATTRIBUTES:
            before, after = getattr(old_spec, attribute), getattr(new_spec, attribute)
            if before != after:
                changes.append(BreakingChange(subject, "", f"{attribute} changed from {before!r} to {after!r}"))
        changes.extend(
            BreakingChange(subject, path, message)
            for path, message in schema_changes(old_spec.data_schema, new_spec.data_schema, "/data")
        )
    return changes


def schema_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[tuple[str, str]]:
    """(path, message) for every way `new` rejects an instance that `old` accepts."""
    found: list[tuple[str, str]] = []
    _compare(old, new, path, lambda where, message: found.append((where, message)))
    return found


def load_reference(reference: str, *, repo_dir: Path = PROJECT_DIR) -> Specification | None:
    """The specification in a directory, or at a git ref (SPEC_PATHS_IN_REPO); None when that ref has none."""
    if Path(reference).is_dir():
        return load_specification(Path(reference))
    if _git(repo_dir, "rev-parse", "--verify", "--quiet", f"{reference}^{{commit}}", check=False).returncode != 0:
        raise ValueError(f"{reference!r} is neither a directory nor a git ref of {repo_dir}")
    for spec_path in SPEC_PATHS_IN_REPO:
        listing = _git(repo_dir, "ls-tree", "--name-only", f"{reference}:{spec_path}", check=False)
        names = listing.stdout.split() if listing.returncode == 0 else []
        if ENVELOPE_FILE in names:
            break
    else:
        return None
    with tempfile.TemporaryDirectory(prefix="event-spec-") as folder:
        for name in names:
            if name.endswith(".yaml"):
                content = _git(repo_dir, "show", f"{reference}:{spec_path}/{name}").stdout
                (Path(folder) / name).write_text(content, encoding="utf-8")
        return load_specification(Path(folder))


def _git(repo_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed git sub-commands, arguments never go through a shell
        ["git", "-C", str(repo_dir), *args],  # noqa: S607 - git from PATH, as a developer runs it
        capture_output=True,
        text=True,
        check=check,
    )


def _compare(old: dict[str, Any], new: dict[str, Any], path: str, report: Callable[[str, str], None]) -> None:
    old, old_nullable = _split_null(old)
    new, new_nullable = _split_null(new)
    if old_nullable and not new_nullable:
        report(path, "null is no longer allowed")
    for keyword in _COMPOSITIONS:
        if old.get(keyword) != new.get(keyword):
            report(path, f"'{keyword}' changed, which cannot be proven compatible")
            return

    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        lost = (old_types or {"any"}) - new_types - ({"integer"} if "number" in new_types else set())
        if lost:
            report(path, f"type changed from {_names(old_types)} to {_names(new_types)}")
            return

    _compare_values(old, new, path, report)
    _compare_bounds(old, new, path, report)
    if "items" in old or "items" in new:
        _compare(old.get("items", {}), new.get("items", {}), f"{path}/*", report)
    if _is_object(old) or _is_object(new):
        _compare_objects(old, new, path, report)


def _compare_values(old: dict[str, Any], new: dict[str, Any], path: str, report: Callable[[str, str], None]) -> None:
    if "enum" in new:
        if "enum" not in old:
            report(path, f"enum added: only {new['enum']} are allowed now")
        else:
            removed = [value for value in old["enum"] if value not in new["enum"]]
            if removed:
                report(path, f"enum narrowed: {removed} no longer allowed")
    if "const" in new and old.get("const", object()) != new["const"]:
        report(path, f"const {new['const']!r} added or changed")
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            report(path, f"{keyword} changed from {old.get(keyword)!r} to {new[keyword]!r}")


def _compare_bounds(old: dict[str, Any], new: dict[str, Any], path: str, report: Callable[[str, str], None]) -> None:
    for keyword in ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"):
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            report(path, f"{keyword} raised from {old.get(keyword)} to {new[keyword]}")
    for keyword in ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"):
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            report(path, f"{keyword} lowered from {old.get(keyword)} to {new[keyword]}")
    if "multipleOf" in new and (old.get("multipleOf") or 0) % new["multipleOf"] != 0:
        report(path, f"multipleOf changed from {old.get('multipleOf')} to {new['multipleOf']}")
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        report(path, "uniqueItems added")


def _compare_objects(old: dict[str, Any], new: dict[str, Any], path: str, report: Callable[[str, str], None]) -> None:
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    old_closed, new_closed = old.get("additionalProperties") is False, new.get("additionalProperties") is False
    if new_closed and not old_closed:
        report(path, "the content model was closed")
    for name, old_field in old_fields.items():
        if name in new_fields:
            _compare(old_field, new_fields[name], f"{path}/{name}", report)
        elif new_closed:
            report(f"{path}/{name}", "field removed")
    for name in new_fields.keys() - old_fields.keys():
        if name in new_required:
            report(f"{path}/{name}", "required field added")
        elif not old_closed:
            report(f"{path}/{name}", "field added to an open content model, where old messages may carry it")
    for name in sorted((new_required - old_required) & old_fields.keys()):
        report(f"{path}/{name}", "optional field became required")


def _split_null(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its null alternative, and whether it had one."""
    branches = schema.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and _NULL in branches:
        inner = next(branch for branch in branches if branch != _NULL)
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**rest, **inner}, True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        remaining = [kind for kind in types if kind != "null"]
        return {**schema, "type": remaining[0] if len(remaining) == 1 else remaining}, True
    if "enum" in schema and None in schema["enum"]:
        return {**schema, "enum": [value for value in schema["enum"] if value is not None]}, True
    return schema, types == "null"


def _types(schema: dict[str, Any]) -> set[str] | None:
    types = schema.get("type")
    if types is None:
        return None
    return {types} if isinstance(types, str) else set(types)


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema


def _names(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))
