"""The PHP types of the specification, rendered here rather than by quicktype.

quicktype 26's PHP output is not correct for these contracts, so this module writes the classes
from the same named types (named_types.py) that quicktype's Go is made from:

- an optional field that is absent is written back as `null` (an invalid message for a field that is
  not nullable), and one that is missing is read with an "undefined property" warning;
- date-times become DateTime, parsed and written with DateTimeInterface::ISO8601, which refuses
  fractional seconds and writes "+0300" for "+03:00": not the RFC 3339 text that came in;
- enums are classes with static instances, not PHP 8.1 enums, and no class has a namespace, so the
  output cannot be autoloaded with PSR-4 as it is.

Each object is a final class with readonly properties (camelCase), fromObject() for a json_decode'd
object and jsonSerialize() for json_encode; an optional field that is absent holds Absent::Field, so
it is told apart from null and from an empty string. Each enum is a string-backed PHP enum. The
runtime the classes use (Json, Absent, DecodeError) is hand-written, in php/runtime/.
"""

from __future__ import annotations

import textwrap
from typing import Any

from events.contracts.named_types import NamedTypes, class_name, non_null_branch, referenced_name

PHP_SUBDIR = "php/src"
PHP_NAMESPACE = "RefundTool\\Events"
_SCALARS = {"string": "string", "integer": "int", "boolean": "bool"}


def render_php(types: NamedTypes, notice: str) -> dict[str, str]:
    """Relative path under the contracts folder -> content of each generated PHP file (PSR-4)."""
    files = {}
    for name, schema in types.definitions.items():
        body = _enum(name, schema) if "enum" in schema else _PhpClass(name, schema, types).render()
        files[f"{PHP_SUBDIR}/{name}.php"] = _file(body, notice)
    files[f"{PHP_SUBDIR}/Topics.php"] = _file(_topics(types), notice)
    return files


def php_case_name(value: str) -> str:
    """RU, CashOnDelivery, None; a value that starts with a digit gets a V: V20."""
    name = value if value.isalnum() and value.upper() == value else class_name(value)
    return f"V{name}" if name[:1].isdigit() else name


def _file(body: str, notice: str) -> str:
    return f"<?php\n\n// {notice}\n\ndeclare(strict_types=1);\n\nnamespace {PHP_NAMESPACE};\n\n{body}"


def _doc(text: str, indent: str = "") -> str:
    lines = textwrap.wrap(" ".join(text.split()), width=100 - len(indent) - 3)
    return "".join(f"{indent}/**\n" + "".join(f"{indent} * {line}\n" for line in lines) + f"{indent} */\n")


def _enum(name: str, schema: dict[str, Any]) -> str:
    values = [value for value in schema["enum"] if value is not None]
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"{name}: only string enums become PHP enums")
    cases = "".join(f"    case {php_case_name(value)} = '{value}';\n" for value in values)
    return _doc(schema.get("description", f"The values of {name}.")) + f"enum {name}: string\n{{\n{cases}}}\n"


def _topics(types: NamedTypes) -> str:
    rows = "".join(f"        '{topic}' => {name}::class,\n" for topic, name in types.messages.items())
    return (
        _doc("The message class of each topic.")
        + "final class Topics\n{\n"
        + "    /** @var array<string, class-string> */\n"
        + f"    public const MESSAGE_CLASSES = [\n{rows}    ];\n}}\n"
    )


class _PhpClass:
    def __init__(self, name: str, schema: dict[str, Any], types: NamedTypes) -> None:
        self.name = name
        self.schema = schema
        self.types = types
        required = set(schema.get("required", ()))
        self.fields = [(prop, sub, prop in required) for prop, sub in schema["properties"].items()]

    def render(self) -> str:
        fields = sorted(self.fields, key=lambda field: not field[2])  # PHP wants optional parameters last
        keys = ", ".join(f"'{prop}'" for prop, _, _ in self.fields)
        params = "".join(self._parameter(prop, sub, required) for prop, sub, required in fields)
        docs = "".join(
            f"     * @param {self._doc_type(sub, required)} ${_camel(prop)}\n"
            for prop, sub, required in fields
            if self._doc_type(sub, required) != self._type(sub, required)
        )
        constructor_doc = f"    /**\n{docs}     */\n" if docs else ""
        decoded = "".join(
            f"            {_camel(prop)}: {self._read(prop, sub, required)},\n" for prop, sub, required in fields
        )
        written = "".join(self._write(prop, sub, required) for prop, sub, required in self.fields)
        return (
            _doc(self.schema.get("description", f"The {self.name} object."))
            + f"final class {self.name} implements \\JsonSerializable\n{{\n"
            + f"    public const FIELDS = [{keys}];\n\n"
            + constructor_doc
            + f"    public function __construct(\n{params}    ) {{\n    }}\n\n"
            + "    public static function fromJson(string $json): self\n    {\n"
            + "        return self::fromObject(Json::decode($json), '');\n    }\n\n"
            + "    public static function fromObject(mixed $value, string $path = ''): self\n    {\n"
            + "        $object = Json::closedObject($value, self::FIELDS, $path);\n\n"
            + f"        return new self(\n{decoded}        );\n    }}\n\n"
            + "    public function jsonSerialize(): \\stdClass\n    {\n"
            + f"        $out = new \\stdClass();\n{written}\n        return $out;\n    }}\n}}\n"
        )

    def _parameter(self, prop: str, schema: dict[str, Any], required: bool) -> str:
        described = schema.get("description") or self._referenced(schema).get("description", "")
        doc = _doc(described, "        ") if described else ""
        default = "" if required else " = Absent::Field"
        return f"{doc}        public readonly {self._type(schema, required)} ${_camel(prop)}{default},\n"

    def _referenced(self, schema: dict[str, Any]) -> dict[str, Any]:
        name = referenced_name(non_null_branch(schema)[0])
        return self.types.definitions[name] if name else {}

    def _type(self, schema: dict[str, Any], required: bool) -> str:
        inner, nullable = non_null_branch(schema)
        base = self._base_type(inner)
        if not required:
            return f"{base}|Absent|null" if nullable else f"{base}|Absent"
        return f"?{base}" if nullable else base

    def _doc_type(self, schema: dict[str, Any], required: bool) -> str:
        inner, nullable = non_null_branch(schema)
        if inner.get("type") != "array":
            return self._type(schema, required)
        base = f"list<{self._base_type(non_null_branch(inner['items'])[0])}>"
        if not required:
            return f"{base}|Absent|null" if nullable else f"{base}|Absent"
        return f"{base}|null" if nullable else base

    def _base_type(self, schema: dict[str, Any]) -> str:
        name = referenced_name(schema)
        if name:
            return name
        kind = schema.get("type")
        if kind == "array":
            return "array"
        if kind in _SCALARS:
            return _SCALARS[kind]
        raise ValueError(f"{self.name}: no PHP type for {schema!r}")

    def _decoder(self, schema: dict[str, Any]) -> str:
        """A PHP callable (mixed $value, string $path) that reads one value of the schema."""
        inner, nullable = non_null_branch(schema)
        name = referenced_name(inner)
        if name and "enum" in self.types.definitions[name]:
            read = f"static fn (mixed $v, string $at): {name} => Json::enum({name}::class, $v, $at)"
        elif name:
            read = f"static fn (mixed $v, string $at): {name} => {name}::fromObject($v, $at)"
        elif inner.get("type") == "array":
            read = f"static fn (mixed $v, string $at): array => Json::list($v, $at, {self._decoder(inner['items'])})"
        else:
            kind = _SCALARS[inner["type"]]
            read = f"static fn (mixed $v, string $at): {kind} => Json::{kind}($v, $at)"
        return f"Json::nullable({read})" if nullable else read

    def _read(self, prop: str, schema: dict[str, Any], required: bool) -> str:
        reader = "required" if required else "optional"
        return f"Json::{reader}($object, '{prop}', $path, {self._decoder(schema)})"

    def _encoded(self, expression: str, schema: dict[str, Any]) -> str:
        inner, nullable = non_null_branch(schema)
        name = referenced_name(inner)
        nullsafe = "?->" if nullable else "->"
        if name and "enum" in self.types.definitions[name]:
            return f"{expression}{nullsafe}value"
        if name:
            return f"{expression}{nullsafe}jsonSerialize()"
        if inner.get("type") == "array":
            item = self._encoded("$item", inner["items"])
            mapped = f"array_map(static fn (mixed $item): mixed => {item}, {expression})"
            return f"{expression} === null ? null : {mapped}" if nullable else mapped
        return expression

    def _write(self, prop: str, schema: dict[str, Any], required: bool) -> str:
        value = self._encoded(f"$this->{_camel(prop)}", schema)
        if required:
            return f"        $out->{prop} = {value};\n"
        guard = f"        if (!$this->{_camel(prop)} instanceof Absent) {{\n"
        return f"{guard}            $out->{prop} = {value};\n        }}\n"


def _camel(prop: str) -> str:
    name = class_name(prop)
    return name[:1].lower() + name[1:]
