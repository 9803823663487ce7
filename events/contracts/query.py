"""The one reader of query parameters: every endpoint declares its parameters, and every wrong one is
reported at once as a FieldError at /query/<name>.

    query = query_parse(request.GET, {"limit": integer(1, 1000, default=100), "overdue": boolean()})

A parameter given empty counts as absent (an HTML form sends empty fields). Unknown parameters and
repeated ones are errors, unless the endpoint names parameters that something else reads (`others`,
such as a paginator's cursor). Messages say what is expected, never repeat the value sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from events.contracts.errors import FieldError


class QueryError(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Param:
    parse: Callable[[str], Any]  # raises ValueError whose message says what is expected
    default: Any = None
    required: bool = False


def query_parse(
    params: Mapping[str, Any], spec: Mapping[str, Param], *, others: Collection[str] = ()
) -> dict[str, Any]:
    """{name: parsed value or default} for every parameter of `spec`; raises QueryError listing every problem."""
    errors = [
        FieldError(f"/query/{name}", f"is not a parameter of this endpoint ({', '.join(spec)})")
        for name in sorted(params)
        if name not in spec and name not in others
    ]
    values: dict[str, Any] = {}
    for name, param in spec.items():
        raw = _values(params, name)
        if len(raw) > 1:
            errors.append(FieldError(f"/query/{name}", "is given more than once"))
            continue
        text = raw[0].strip() if raw else ""
        if not text:
            if param.required:
                errors.append(FieldError(f"/query/{name}", "is required"))
            values[name] = param.default
            continue
        try:
            values[name] = param.parse(text)
        except ValueError as exc:
            errors.append(FieldError(f"/query/{name}", str(exc)))
    if errors:
        raise QueryError(errors)
    return values


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(params, "getlist"):  # Django's QueryDict keeps every value of a repeated name
        return list(params.getlist(name))
    return [params[name]] if name in params else []


def integer(low: int, high: int, *, default: int | None = None) -> Param:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(text)

    return Param(parse, default)


def choice(values: Iterable[str], *, default: str | None = None, normalize: Callable[[str], str] = str) -> Param:
    allowed = list(values)

    def parse(text: str) -> str:
        value = normalize(text)
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return Param(parse, default)


_BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def boolean(*, default: bool | None = None) -> Param:
    def parse(text: str) -> bool:
        if text.lower() not in _BOOLEANS:
            raise ValueError("must be one of 1, 0, true, false")
        return _BOOLEANS[text.lower()]

    return Param(parse, default)


def iso_date(*, required: bool = False) -> Param:
    def parse(text: str) -> date:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return date.fromisoformat(text)
        except ValueError:
            pass
        raise ValueError("must be a date, YYYY-MM-DD")

    return Param(parse, required=required)


def aware_datetime() -> Param:
    def parse(text: str) -> datetime:
        try:
            # A "+" in a query string arrives as a space.
            value = datetime.fromisoformat(text.replace(" ", "+"))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise ValueError("must be an RFC 3339 date-time with an offset")
        return value

    return Param(parse)


def text() -> Param:
    return Param(str)
