"""Shared test vectors: valid and invalid messages of every event type, expanded from the spec's examples.

Each event file's `data` carries `x-examples` (whole payloads, the first with every optional field
present) and `_envelope.yaml`'s `metadata` one `x-example`. From them every version gets, in
`vectors/<topic>.json`:

- valid messages: the examples; every optional field absent; every nullable field null; every string
  at its maxLength (free text in non-ASCII); free text in non-ASCII; each enum value the others miss;
- invalid messages, one mutation of the first example each (a list one item over its maxItems only
  for lists of at most 100), with the errors the JSON Schema gives:
  the JSON pointer of the field at fault (as events.contracts.validation reports it) and the keyword
  that refused it, or `control_characters` for the validator's own rule.

Go, PHP and Python read the same files (tests/events_spec/test_vectors.py, go/vectors_test.go,
php/tests/run.php). The business rules the apps register (amount = items + delivery, currency of
the country) are not in the schema: the examples obey them, the mutations do not touch them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from events.contracts.named_types import non_null_branch
from events.contracts.specification import EventSpec, Specification
from events.contracts.validation import control_character_errors, json_pointer

VECTORS_SUBDIR = "vectors"
EXAMPLES_KEY = "x-examples"
NON_ASCII = "Возврат — 返品 ünïcödé 🎁 "
_EMAIL_DOMAIN = f"{'a' * 63}.{'b' * 63}.{'c' * 58}.ru"  # three labels of at most 63: 189 characters
_WRONG_TYPE: dict[str, Any] = {"string": 12, "integer": "1", "boolean": "yes", "object": "text", "array": {}}
_KEYWORDS = {"Constant": "const", "Type": "type"}


class VectorError(ValueError):
    """The spec's examples cannot give the vectors; the message says what is missing or wrong."""


@dataclass(frozen=True)
class _Field:
    pointer: list[str | int]  # where in the message
    schema: dict[str, Any]  # its schema without the null alternative
    nullable: bool
    required: bool


def render_vectors(specification: Specification, notice: str) -> dict[str, str]:
    metadata_examples = specification.metadata_schema.get("x-example")
    if not isinstance(metadata_examples, dict):
        raise VectorError("_envelope.yaml: metadata needs an x-example, the metadata of the vectors' messages")
    return {
        f"{VECTORS_SUBDIR}/{spec.topic}.json": _file(spec, metadata_examples, notice) for spec in specification.specs
    }


def _file(spec: EventSpec, metadata_example: dict[str, Any], notice: str) -> str:
    examples = spec.data_schema.get(EXAMPLES_KEY)
    if not isinstance(examples, list) or not examples:
        raise VectorError(f"{spec.topic}.yaml: data needs x-examples, the payloads of the vectors")
    metadata = {**metadata_example, "event_type": spec.name, "version": spec.version}
    messages = [{"metadata": metadata, "data": example} for example in examples]
    builder = _Builder(spec, messages[0])
    valid = builder.valid(messages)
    invalid = builder.invalid()
    lines = [
        "{",
        f'  "$comment": {json.dumps(notice)},',
        f'  "topic": "{spec.topic}",',
        '  "valid": [',
        ",\n".join(f"    {_compact(vector)}" for vector in valid),
        "  ],",
        '  "invalid": [',
        ",\n".join(f"    {_compact(vector)}" for vector in invalid),
        "  ]",
        "}",
    ]
    return "\n".join(lines) + "\n"


class _Builder:
    def __init__(self, spec: EventSpec, base: dict[str, Any]) -> None:
        self.spec = spec
        self.base = base
        self.validator = jsonschema_rs.validator_for(spec.message_schema, validate_formats=True)
        self.fields = list(_fields(spec.message_schema, base, []))

    def valid(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for field in self.fields:
            if not field.required and _get(self.base, field.pointer) is _ABSENT:
                raise VectorError(f"{self.spec.topic}.yaml: the first example lacks {json_pointer(field.pointer)}")
        vectors = [
            {"name": "every_optional_field_present" if index == 0 else f"example_{index + 1}", "message": message}
            for index, message in enumerate(messages)
        ]
        vectors.append({"name": "every_optional_field_absent", "message": self._without_optional()})
        nulls = self._mutated((field.pointer, None) for field in self.fields if field.nullable)
        if nulls != self.base:
            vectors.append({"name": "every_nullable_field_null", "message": nulls})
        vectors.append({"name": "maximal_lengths", "message": self._mutated(self._maximal_lengths())})
        free_text = ((f.pointer, NON_ASCII + _get(self.base, f.pointer)) for f in self.fields if _is_free_text(f))
        vectors.append({"name": "non_ascii_text", "message": self._mutated(free_text, cut=True)})
        vectors.extend(self._enum_values(vectors))
        for vector in vectors:
            errors = self._errors(vector["message"])
            if errors:
                raise VectorError(f"{self.spec.topic}: the valid vector {vector['name']} is invalid: {errors}")
        return vectors

    def invalid(self) -> list[dict[str, Any]]:
        vectors = []
        for mutation, pointer, message in self._mutations():
            errors = self._errors(message)
            if not errors:
                raise VectorError(f"{self.spec.topic}: {mutation} at {json_pointer(pointer)} is still valid")
            name = f"{mutation}{json_pointer(pointer) or '/'}"
            vectors.append({"name": name, "mutation": mutation, "message": message, "errors": errors})
        return vectors

    def _mutations(self) -> Iterator[tuple[str, list[str | int], dict[str, Any]]]:
        objects = [[]] + [f.pointer for f in self.fields if f.schema.get("type") == "object"]
        for pointer in objects:
            if _get(self.base, pointer) is not None:
                yield "unknown_field", pointer, self._mutated([([*pointer, "unexpected_field"], 1)])
        for field in self.fields:
            pointer, schema, value = field.pointer, field.schema, _get(self.base, field.pointer)
            if field.required:
                yield "missing_required", pointer, self._mutated([(pointer, _ABSENT)])
            kind = schema.get("type")
            if kind in _WRONG_TYPE:
                yield "wrong_type", pointer, self._mutated([(pointer, _WRONG_TYPE[kind])])
            if "const" in schema:
                yield "const", pointer, self._mutated([(pointer, "other" if kind == "string" else 99)])
            if "enum" in schema:
                yield "not_in_enum", pointer, self._mutated([(pointer, "unknown-value")])
            if "pattern" in schema:
                yield "pattern", pointer, self._mutated([(pointer, "?")])
            if "maxLength" in schema:
                yield "too_long", pointer, self._mutated([(pointer, "x" * (schema["maxLength"] + 1))])
            if schema.get("minLength", 0) > 0:
                yield "too_short", pointer, self._mutated([(pointer, "")])
            if "minimum" in schema:
                yield "below_minimum", pointer, self._mutated([(pointer, schema["minimum"] - 1)])
            if "maximum" in schema:
                yield "above_maximum", pointer, self._mutated([(pointer, schema["maximum"] + 1)])
            if schema.get("minItems", 0) > 0:
                yield "too_few_items", pointer, self._mutated([(pointer, [])])
            if schema.get("maxItems", _MAX_ITEMS_SHOWN + 1) <= _MAX_ITEMS_SHOWN and isinstance(value, list) and value:
                too_many = [copy.deepcopy(value[index % len(value)]) for index in range(schema["maxItems"] + 1)]
                yield "too_many_items", pointer, self._mutated([(pointer, too_many)])
            if schema.get("minProperties", 0) > 0:
                yield "too_few_properties", pointer, self._mutated([(pointer, {})])
            if schema.get("format") in _BAD_FORMAT:
                yield "format", pointer, self._mutated([(pointer, _BAD_FORMAT[schema["format"]])])
            if _is_free_text(field) and isinstance(value, str):
                yield "control_character", pointer, self._mutated([(pointer, "a\u0001b")])

    def _without_optional(self) -> dict[str, Any]:
        message = copy.deepcopy(self.base)
        # Deepest first, so a parent's minProperties sees what its optional children left.
        for field in sorted(self.fields, key=lambda f: -len(f.pointer)):
            if field.required or _get(message, field.pointer) is _ABSENT:
                continue
            parent = _get(message, field.pointer[:-1])
            minimum = _parent_min_properties(self.spec.message_schema, field.pointer)
            if len(parent) > minimum:
                del parent[field.pointer[-1]]
        return message

    def _maximal_lengths(self) -> Iterator[tuple[list[str | int], str]]:
        for field in self.fields:
            maximum = field.schema.get("maxLength")
            value = _get(self.base, field.pointer)
            if maximum is None or not isinstance(value, str) or not value:
                continue
            if field.schema.get("format") == "email":
                local = value.partition("@")[0]
                yield field.pointer, f"{(local * 64)[:64]}@{_EMAIL_DOMAIN}"
            elif _is_free_text(field):
                yield field.pointer, ((value + NON_ASCII) * maximum)[:maximum]
            else:
                yield field.pointer, (value * maximum)[:maximum]

    def _enum_values(self, vectors: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for field in self.fields:
            if "enum" not in field.schema or _get(self.base, field.pointer) is None:
                continue
            seen = {_get(vector["message"], field.pointer) for vector in vectors}
            for value in field.schema["enum"]:
                if value not in seen and value is not None:
                    name = f"enum{json_pointer(field.pointer)}={value}"
                    yield {"name": name, "message": self._mutated([(field.pointer, value)])}

    def _mutated(self, changes: Any, *, cut: bool = False) -> dict[str, Any]:
        message = copy.deepcopy(self.base)
        for pointer, value in changes:
            parent = _get(message, pointer[:-1])
            if value is _ABSENT:
                del parent[pointer[-1]]
                continue
            if cut:
                maximum = _field_schema(self.fields, pointer).get("maxLength")
                value = value[:maximum] if maximum else value
            parent[pointer[-1]] = value
        return message

    def _errors(self, message: dict[str, Any]) -> list[dict[str, str]]:
        errors = [error for raw in self.validator.iter_errors(message) for error in _coded(raw)]
        if errors:
            return errors
        return [{"path": e.path, "code": "control_characters"} for e in control_character_errors(message)]


class _Absent:
    """Marks a field that is not in the message."""


_ABSENT: Any = _Absent()
# A list longer than its maxItems is a vector only up to this many items: the item lists of a refund
# (up to 10,000) would make files of megabytes to show what a six-tender list shows.
_MAX_ITEMS_SHOWN = 100
_BAD_FORMAT = {"uuid": "not-a-uuid", "date-time": "2026-03-02 10:00:00", "email": "not-an-email"}


def _coded(error: jsonschema_rs.ValidationError) -> list[dict[str, str]]:
    """The error as events.contracts.validation reports its path, with the keyword that gave it."""
    path = json_pointer(error.instance_path)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [{"path": f"{path}/{_escape(kind.property)}", "code": "required"}]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return [{"path": f"{path}/{_escape(name)}", "code": "additionalProperties"} for name in kind.unexpected]
    name = type(kind).__name__
    return [{"path": path, "code": _KEYWORDS.get(name, name[:1].lower() + name[1:])}]


def _fields(schema: dict[str, Any], value: Any, pointer: list[str | int]) -> Iterator[_Field]:
    """Every field under an object schema, descending into the example's values (first array item)."""
    required = set(schema.get("required", ()))
    for prop, sub in schema.get("properties", {}).items():
        inner, nullable = non_null_branch(sub)
        here = [*pointer, prop]
        yield _Field(here, inner, nullable, prop in required)
        child = value.get(prop) if isinstance(value, dict) else None
        if inner.get("type") == "object":
            yield from _fields(inner, child, here)
        elif inner.get("type") == "array" and isinstance(child, list) and child:
            item = inner["items"]
            if item.get("type") == "object":
                yield from _fields(item, child[0], [*here, 0])


def _is_free_text(field: _Field) -> bool:
    schema = field.schema
    return schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & schema.keys()


def _field_schema(fields: list[_Field], pointer: list[str | int]) -> dict[str, Any]:
    return next(field.schema for field in fields if field.pointer == pointer)


def _parent_min_properties(schema: dict[str, Any], pointer: list[str | int]) -> int:
    node = schema
    for part in pointer[:-1]:
        node = non_null_branch(node["items"] if isinstance(part, int) else node["properties"][part])[0]
    return node.get("minProperties", 0)


def _get(document: Any, pointer: list[str | int]) -> Any:
    for part in pointer:
        if isinstance(part, int):
            document = document[part] if isinstance(document, list) and len(document) > part else _ABSENT
        elif isinstance(document, dict) and part in document:
            document = document[part]
        else:
            return _ABSENT
    return document


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _compact(vector: dict[str, Any]) -> str:
    return json.dumps(vector, ensure_ascii=False, separators=(",", ":"))
