"""The specification as named types, the shape the Go and PHP generators are fed.

Each generated JSON Schema stands alone, so the shared types (Country, Payment, RefundItem, ...) are
inlined in every one, and the envelope's metadata pins that event type's name and version. Fed as they
are, quicktype makes one copy of each shared type per schema and tells them apart with made-up
prefixes ("PurplePayment", "FluffyEventType"), which change whenever a schema is added. Here every
object and enum gets one stable name instead: its title from `_types.yaml`, else its owner's name and
the field's; the envelope's metadata is one `Metadata` type (event_type and version are plain string
and integer there: the schema, not the type, pins them); the payload of `refund.update` v1 is
`RefundUpdateV1`, as in dtos.py, and its whole message `RefundUpdateV1Message`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events.contracts.specification import EventSpec, Specification, without_annotations

METADATA = "Metadata"
ROOT = "Messages"  # only gathers the messages for the generators; no type of its own
DEFINITIONS_PREFIX = "#/definitions/"
_NULL = {"type": "null"}
_ANNOTATIONS = ("title", "description")


@dataclass(frozen=True)
class NamedTypes:
    """`definitions`: name -> schema whose named parts are {"$ref": "#/definitions/<name>"}."""

    definitions: dict[str, dict[str, Any]]
    messages: dict[str, str]  # topic -> the name of its message type

    def document(self) -> dict[str, Any]:
        """One JSON Schema with every type under `definitions` and a root that refers to each message."""
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": ROOT,
            "type": "object",
            "additionalProperties": False,
            "properties": {name: {"$ref": f"{DEFINITIONS_PREFIX}{name}"} for name in self.messages.values()},
            "definitions": self.definitions,
        }


def class_name(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in _words(text))


def payload_name(spec: EventSpec) -> str:
    return f"{class_name(spec.name)}V{spec.version}"


def message_name(spec: EventSpec) -> str:
    return f"{payload_name(spec)}Message"


def named_types(specification: Specification) -> NamedTypes:
    namer = _Namer()
    namer.hoist(without_annotations(specification.metadata_schema), METADATA)
    messages = {}
    for spec in specification.specs:
        data = namer.hoist(without_annotations(spec.data_schema), payload_name(spec))
        name = message_name(spec)
        namer.define(
            name,
            {
                "title": name,
                "description": f"A message of {spec.topic}: the envelope's metadata and the payload.",
                "type": "object",
                "additionalProperties": False,
                "required": ["metadata", "data"],
                "properties": {"metadata": {"$ref": f"{DEFINITIONS_PREFIX}{METADATA}"}, "data": data},
            },
        )
        messages[spec.topic] = name
    return NamedTypes(definitions=dict(sorted(namer.definitions.items())), messages=messages)


def referenced_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.removeprefix(DEFINITIONS_PREFIX) if isinstance(ref, str) else None


def non_null_branch(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its null alternative, and whether null was allowed."""
    branches = schema.get("anyOf")
    if branches and len(branches) == 2 and _NULL in branches:
        return next(branch for branch in branches if branch != _NULL), True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        kinds = [kind for kind in types if kind != "null"]
        return {**schema, "type": kinds[0] if len(kinds) == 1 else kinds}, True
    return schema, False


class _Namer:
    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self._shapes: dict[str, str] = {}

    def define(self, name: str, schema: dict[str, Any]) -> None:
        shape = json.dumps({k: v for k, v in schema.items() if k not in _ANNOTATIONS}, sort_keys=True)
        if self._shapes.setdefault(name, shape) != shape:
            raise ValueError(f"two different types are both named {name}")
        self.definitions.setdefault(name, schema)

    def hoist(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        """The schema with its objects and enums replaced by references to named definitions."""
        if "anyOf" in schema:
            return {**schema, "anyOf": [self.hoist(branch, name) for branch in schema["anyOf"]]}
        if schema.get("type") == "array":
            return {**schema, "items": self.hoist(schema["items"], f"{name}Item")}
        if schema.get("type") == "object":
            name = schema.get("title", name)
            properties = {
                prop: self.hoist(sub, f"{name}{class_name(prop)}") for prop, sub in schema["properties"].items()
            }
            self.define(name, {**schema, "title": name, "properties": properties})
            return {"$ref": f"{DEFINITIONS_PREFIX}{name}"}
        if "enum" in schema:
            name = schema.get("title", name)
            self.define(name, {**schema, "title": name})
            return {"$ref": f"{DEFINITIONS_PREFIX}{name}"}
        return schema


def _words(text: str) -> list[str]:
    return [part for part in "".join(c if c.isalnum() else " " for c in text).split() if part]
