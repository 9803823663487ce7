"""One validator for everyone (gateway, consumers, outbox): JSON Schema first, then business rules.

Stage 1 checks the whole message (envelope and payload) against the event type's generated schema
with a compiled validator (jsonschema-rs), built once per event type and version. Stage 2, only on a
message that passed stage 1 (so a rule may rely on types, required fields and formats), refuses
control characters in every text value (NUL and the C0 controls but tab and newline: no field has a
use for them, and PostgreSQL cannot store a NUL), then runs the business rules that the apps
register in events.contracts.rules.

Messages carry no values of the input: a value can be personal data, and errors end up in logs and
dead-letter headers. The path says which value was wrong.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from events.contracts.errors import FieldError
from events.contracts.rules import business_rule_errors
from events.contracts.specification import EventSpec, default_specification

_VALUE = "the value"


def validate_message(event_type: str, message: Mapping[str, Any]) -> list[FieldError]:
    """Every error of a message of `event_type`; an empty list means it is valid.

    The schema is the version the message names in metadata.version when the specification has it,
    else the latest one (whose pinned version then reports the mismatch). Raises UnknownEventType.
    """
    if type(message) is not dict:  # the fast path is a dict, as JSON parsers give
        if not isinstance(message, Mapping):
            return [FieldError(path="", message="an event must be a JSON object")]
        message = dict(message)
    return message_errors(spec_for_message(event_type, message), message)


def message_errors(spec: EventSpec, message: dict[str, Any]) -> list[FieldError]:
    """validate_message for a message object whose spec (version) the caller already looked up."""
    validator = compiled_validator(spec.name, spec.version)
    if not validator.is_valid(message):
        return [error for raw in validator.iter_errors(message) for error in _field_errors(raw)]
    controls = control_character_errors(message)
    if controls:
        return controls
    return business_rule_errors(spec.name, message["data"])


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
CONTROL_MESSAGE = "must not contain control characters (tab and newline are allowed)"


def control_character_errors(value: Any) -> list[FieldError]:
    """An error for every text value under `value` that holds a control character, at its path."""
    found: list[list[str | int]] = []
    _find_controls(value, [], found)
    return [FieldError(path=json_pointer(parts), message=CONTROL_MESSAGE) for parts in found]


def _find_controls(value: Any, parts: list[str | int], found: list[list[str | int]]) -> None:
    """Appends the path of each text under `value` that holds a control character to `found`.

    Every value of every event passes here, so a path is made only for a text that fails, and a text
    is checked where its container is walked rather than in a call of its own.
    """
    if type(value) is str:
        if _CONTROL.search(value):
            found.append(list(parts))
        return
    if type(value) is dict:
        entries: Any = value.items()
    elif type(value) is list:
        entries = enumerate(value)
    else:
        return
    for key, item in entries:
        if type(item) is str:
            if _CONTROL.search(item):
                found.append([*parts, key])
        elif type(item) is dict or type(item) is list:
            parts.append(key)
            _find_controls(item, parts, found)
            parts.pop()


def spec_for_message(event_type: str, message: Mapping[str, Any]) -> EventSpec:
    """The spec of the version a message names, or of the latest version when it names no known one."""
    metadata = message.get("metadata")
    version = metadata.get("version") if type(metadata) is dict else None
    if type(version) is not int:
        version = None
    return default_specification().get_named_or_latest(event_type, version)


@functools.cache
def compiled_validator(event_type: str, version: int) -> jsonschema_rs.Validator:
    spec = default_specification().get(event_type, version)
    return jsonschema_rs.validator_for(spec.message_schema, validate_formats=True, mask=_VALUE)


def _field_errors(error: jsonschema_rs.ValidationError) -> list[FieldError]:
    path = json_pointer(error.instance_path)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [FieldError(path=f"{path}/{_escape(kind.property)}", message="is required")]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return [
            FieldError(path=f"{path}/{_escape(name)}", message="is not a field of this event type")
            for name in kind.unexpected
        ]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Constant):
        return [FieldError(path=path, message=f"must be {kind.expected_value!r}")]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AnyOf):
        alternatives = [branch[0].message for branch in kind.context if branch]
        return [FieldError(path=path, message="; or ".join(alternatives) or error.message)]
    return [FieldError(path=path, message=error.message)]


def json_pointer(parts: list[str | int]) -> str:
    return "".join(f"/{_escape(str(part))}" for part in parts)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
