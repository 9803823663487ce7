"""One validator for everyone (gateway, consumers, outbox): JSON Schema first, then business rules.

Stage 1 checks the whole message (envelope and payload) against the event type's generated schema
with a compiled validator (jsonschema-rs), built once per event type and version. Stage 2 runs the
business rules that the apps register in events.contracts.rules, and only on a message that passed stage 1, so
a rule may rely on the schema (types, required fields, formats).

Messages carry no values of the input: a value can be personal data, and errors end up in logs and
dead-letter headers. The path says which value was wrong.
"""

from __future__ import annotations

import functools
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
    return business_rule_errors(spec.name, message["data"])


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
