"""The event specification: the YAML files of events/contracts/spec/, loaded once and checked.

Each event type's file names its topic, owner, category, partition key, response (for commands) and
payload schema. ``_envelope.yaml`` holds the metadata every message carries; ``_types.yaml`` holds the
types several event types share, which the loader inlines wherever a file refers to them with
``{$ref: "#/$defs/Name"}``, so every schema derived from the specification stands alone.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
import yaml

SPEC_DIR = Path(__file__).resolve().parent / "spec"
ENVELOPE_FILE = "_envelope.yaml"
TYPES_FILE = "_types.yaml"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_REF_PREFIX = "#/$defs/"
_SPEC_KEYS = {"name", "version", "topic", "owner", "category", "partition_key", "response", "description", "data"}
_REQUIRED_SPEC_KEYS = _SPEC_KEYS - {"response"}

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it

Category = Literal["event", "command"]


class SpecError(ValueError):
    """A specification file is malformed; the message names the file and the problem."""


class UnknownEventType(LookupError):  # noqa: N818 - the name other parts code against
    """No event type (or no such version of it, or no such topic) in the specification."""


@dataclass(frozen=True)
class EventSpec:
    name: str
    version: int
    topic: str
    owner: str
    category: Category
    partition_key: str
    response_event_type: str | None
    response_timeout_seconds: int | None
    # The data field, present in the command and in its response, that says which command a response
    # answers (e.g. refund_id); None when only metadata.causation_id links them.
    response_correlation_field: str | None
    description: str
    # The payload schema with shared types inlined; may carry x- annotations for the DTO generator.
    data_schema: dict[str, Any] = field(compare=False, repr=False)
    # Envelope plus payload, with metadata.event_type and metadata.version pinned: what validation uses.
    message_schema: dict[str, Any] = field(compare=False, repr=False)

    @property
    def event_type(self) -> str:
        return self.name

    def key_for(self, data: Mapping[str, Any]) -> str:
        """The Kafka key of an event with this payload: the value of the partition-key field."""
        return str(data[self.partition_key])


@dataclass(frozen=True)
class Specification:
    """Every event type of one spec directory, sorted by name and version."""

    directory: Path
    envelope_description: str
    metadata_schema: dict[str, Any] = field(repr=False)
    specs: tuple[EventSpec, ...] = field(repr=False)
    _by_key: dict[tuple[str, int], EventSpec] = field(init=False, repr=False, compare=False)
    _latest: dict[str, EventSpec] = field(init=False, repr=False, compare=False)
    _by_topic: dict[str, EventSpec] = field(init=False, repr=False, compare=False)
    _versions: dict[str, dict[int, EventSpec]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # specs are sorted by version, so the last one of a name is its latest
        object.__setattr__(self, "_by_key", {(spec.name, spec.version): spec for spec in self.specs})
        object.__setattr__(self, "_latest", {spec.name: spec for spec in self.specs})
        object.__setattr__(self, "_by_topic", {spec.topic: spec for spec in self.specs})
        versions: dict[str, dict[int, EventSpec]] = {}
        for spec in self.specs:
            versions.setdefault(spec.name, {})[spec.version] = spec
        object.__setattr__(self, "_versions", versions)

    def get(self, event_type: str, version: int | None = None) -> EventSpec:
        try:
            if version is None:
                return self._latest[event_type]
            return self._by_key[(event_type, version)]
        except KeyError:
            label = event_type if version is None else f"{event_type} v{version}"
            raise UnknownEventType(f"unknown event type {label!r}") from None

    def versions(self, event_type: str) -> list[int]:
        return list(self._versions.get(event_type, ()))

    def get_named_or_latest(self, event_type: str, version: int | None) -> EventSpec:
        """The given version when it is one of the event type's, else its latest; UnknownEventType."""
        spec = self._versions.get(event_type, {}).get(version) if version is not None else None
        return spec if spec is not None else self.get(event_type)

    def for_topic(self, topic: str) -> EventSpec:
        try:
            return self._by_topic[topic]
        except KeyError:
            raise UnknownEventType(f"no event type is published on topic {topic!r}") from None

    def latest(self) -> list[EventSpec]:
        return list(self._latest.values())


def load_specification(directory: Path = SPEC_DIR) -> Specification:
    """Reads and checks every file of a spec directory; raises SpecError naming the first bad file."""
    directory = Path(directory)
    envelope = _read_yaml(directory / ENVELOPE_FILE)
    types_file = directory / TYPES_FILE
    definitions = _read_yaml(types_file).get("$defs", {}) if types_file.exists() else {}
    inline = functools.partial(_inline_refs, definitions=definitions)

    if not isinstance(envelope.get("metadata"), dict):
        raise SpecError(f"{ENVELOPE_FILE}: 'metadata' must be an object schema")
    metadata_schema = inline(envelope["metadata"], where=ENVELOPE_FILE)
    _check_schema(metadata_schema, where=ENVELOPE_FILE)

    specs = [
        _load_event_file(path, metadata_schema, inline)
        for path in sorted(directory.glob("*.yaml"))
        if not path.name.startswith("_")
    ]
    specs.sort(key=lambda spec: (spec.name, spec.version))
    names = {spec.name for spec in specs}
    for spec in specs:
        if spec.response_event_type is not None and spec.response_event_type not in names:
            raise SpecError(f"{spec.topic}.yaml: response event type {spec.response_event_type!r} is not specified")
        if spec.response_correlation_field is not None:
            _check_correlation_field(spec, [s for s in specs if s.name == spec.response_event_type])
    return Specification(
        directory=directory,
        envelope_description=str(envelope.get("description", "")),
        metadata_schema=metadata_schema,
        specs=tuple(specs),
    )


@functools.cache
def default_specification() -> Specification:
    return load_specification(SPEC_DIR)


def get_event_spec(event_type: str, version: int | None = None) -> EventSpec:
    """The latest version of an event type, or the given version; raises UnknownEventType."""
    return default_specification().get(event_type, version)


def all_event_specs() -> list[EventSpec]:
    """Every version of every event type, sorted by name and version."""
    return list(default_specification().specs)


def spec_for_topic(topic: str) -> EventSpec:
    return default_specification().for_topic(topic)


def without_annotations(schema: Any) -> Any:
    """The schema without the x- keys that only the generator reads."""
    if isinstance(schema, dict):
        return {key: without_annotations(value) for key, value in schema.items() if not key.startswith("x-")}
    if isinstance(schema, list):
        return [without_annotations(value) for value in schema]
    return schema


def iter_subschemas(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The schema and every schema nested in it, each with its JSON pointer within the schema."""
    yield path, schema
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(keyword), dict):
            yield from iter_subschemas(schema[keyword], f"{path}/{keyword}")
    for keyword in ("properties", "patternProperties", "$defs"):
        for name, subschema in schema.get(keyword, {}).items():
            yield from iter_subschemas(subschema, f"{path}/{keyword}/{name}")
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, subschema in enumerate(schema.get(keyword, ())):
            yield from iter_subschemas(subschema, f"{path}/{keyword}/{index}")


def _load_event_file(path: Path, metadata_schema: dict[str, Any], inline: Any) -> EventSpec:
    raw = _read_yaml(path)
    where = path.name
    unknown = sorted(set(raw) - _SPEC_KEYS)
    missing = sorted(_REQUIRED_SPEC_KEYS - set(raw))
    if unknown:
        raise SpecError(f"{where}: unknown keys {unknown}")
    if missing:
        raise SpecError(f"{where}: missing keys {missing}")

    name, version, topic = raw["name"], raw["version"], raw["topic"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(f"{where}: name {name!r} must look like 'domain.event_name' (lower case)")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SpecError(f"{where}: version must be an integer >= 1")
    if topic != f"{name}.v{version}":
        raise SpecError(f"{where}: topic must be {name}.v{version!s}, not {topic!r}")
    if path.name != f"{topic}.yaml":
        raise SpecError(f"{where}: the file must be named {topic}.yaml")

    category = raw["category"]
    response = raw.get("response")
    if category not in ("event", "command"):
        raise SpecError(f"{where}: category must be 'event' or 'command'")
    if category == "command":
        if (
            not isinstance(response, dict)
            or not {"event_type", "timeout_seconds"} <= set(response)
            or not set(response) <= {"event_type", "timeout_seconds", "correlation_field"}
        ):
            raise SpecError(f"{where}: a command needs response: {{event_type, timeout_seconds[, correlation_field]}}")
        timeout = response["timeout_seconds"]
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            raise SpecError(f"{where}: response.timeout_seconds must be a positive integer")
        if not isinstance(response.get("correlation_field", ""), str):
            raise SpecError(f"{where}: response.correlation_field must be the name of a data field")
    elif response is not None:
        raise SpecError(f"{where}: only a command has a response")

    data_schema = inline(raw["data"], where=where)
    if not isinstance(data_schema, dict) or data_schema.get("type") != "object":
        raise SpecError(f"{where}: data must be an object schema")
    _check_closed(data_schema, where=where)
    _check_schema(data_schema, where=where)
    partition_key = raw["partition_key"]
    key_schema = data_schema.get("properties", {}).get(partition_key)
    if partition_key not in data_schema.get("required", ()) or not key_schema or key_schema.get("type") != "string":
        raise SpecError(f"{where}: partition_key {partition_key!r} must be a required string field of data")

    return EventSpec(
        name=name,
        version=version,
        topic=topic,
        owner=str(raw["owner"]),
        category=category,
        partition_key=partition_key,
        response_event_type=response["event_type"] if response else None,
        response_timeout_seconds=response["timeout_seconds"] if response else None,
        response_correlation_field=response.get("correlation_field") if response else None,
        description=" ".join(str(raw["description"]).split()),
        data_schema=data_schema,
        message_schema=_message_schema(name, version, topic, str(raw["description"]), metadata_schema, data_schema),
    )


def _check_correlation_field(command: EventSpec, responses: list[EventSpec]) -> None:
    """The correlation field is a required string field of the command and of every version of its response."""
    field_name = command.response_correlation_field
    for spec in (command, *responses):
        schema = spec.data_schema.get("properties", {}).get(field_name)
        if field_name not in spec.data_schema.get("required", ()) or not schema or schema.get("type") != "string":
            raise SpecError(
                f"{command.topic}.yaml: response.correlation_field {field_name!r} must be a required string "
                f"field of {spec.name} v{spec.version}"
            )


def _message_schema(
    name: str, version: int, topic: str, description: str, metadata: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    metadata = copy.deepcopy(metadata)
    metadata["properties"]["event_type"] = {**metadata["properties"]["event_type"], "const": name}
    metadata["properties"]["version"] = {**metadata["properties"]["version"], "const": version}
    return without_annotations(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"urn:refundtool:events:{topic}",
            "title": f"{name} v{version}",
            "description": " ".join(description.split()),
            "type": "object",
            "additionalProperties": False,
            "required": ["metadata", "data"],
            "properties": {"metadata": metadata, "data": data},
        }
    )


def _inline_refs(node: Any, *, definitions: Mapping[str, Any], where: str, seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, definitions=definitions, where=where, seen=seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {
            key: _inline_refs(value, definitions=definitions, where=where, seen=seen) for key, value in node.items()
        }
    ref = node["$ref"]
    name = ref[len(_REF_PREFIX) :] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else None
    if name is None or name not in definitions:
        raise SpecError(f"{where}: $ref {ref!r} names no type of {TYPES_FILE}")
    if name in seen:
        raise SpecError(f"{where}: type {name} refers to itself")
    resolved = _inline_refs(definitions[name], definitions=definitions, where=where, seen=(*seen, name))
    if resolved.get("type") == "object" or "enum" in resolved:
        resolved = {"title": name, **resolved}  # names the generated class or Literal alias
    for key, value in node.items():
        if key != "$ref":
            resolved[key] = _inline_refs(value, definitions=definitions, where=where, seen=seen)
    return resolved


def _check_closed(schema: dict[str, Any], *, where: str) -> None:
    """The content model is closed: an object lists every field it may have."""
    for path, subschema in iter_subschemas(schema):
        is_object = subschema.get("type") == "object" or "properties" in subschema
        if is_object and subschema.get("additionalProperties") is not False:
            raise SpecError(f"{where}: the object at {path or '/'} needs 'additionalProperties: false'")


def _check_schema(schema: dict[str, Any], *, where: str) -> None:
    try:
        jsonschema_rs.meta.validate({"$schema": JSON_SCHEMA_DIALECT, **without_annotations(schema)})
    except jsonschema_rs.ValidationError as exc:
        raise SpecError(f"{where}: not a valid JSON Schema: {exc.message}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except FileNotFoundError:
        raise SpecError(f"{path.name}: missing") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(content, dict):
        raise SpecError(f"{path.name}: must be a YAML mapping")
    return content
