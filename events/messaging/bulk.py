"""Writing new rows in order: with the ORM, or through COPY on the consumer's batch path.

`insert_rows` and `insert_objects` are the one entry: `copy=False` (every service on one refund, the
admin's actions) uses the ORM's bulk_create; `copy=True` (the consumer's batch of refund requests)
uses COPY. Both write the same rows; tests/domain/test_write_paths.py proves it.

On PostgreSQL the rows go through COPY: psycopg formats each row in C, while bulk_create sends a
column of JSON or text as an array literal that psycopg escapes character by character in Python,
which made that escaping the consumer's largest cost. COPY fires the table's triggers and checks
its constraints like INSERT (the outbox's NOTIFY trigger included) and keeps the rows' order, so
serial ids follow it. Elsewhere (SQLite for local runs) it is a plain INSERT per row.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections, models

# Python types psycopg adapts to exactly what Django would send for them: such a value goes to
# COPY as it is, which skips Django's chain of calls for most values.
_NATIVE = (str, int, uuid.UUID, Decimal, datetime, type(None))


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], *, copy: bool
) -> None:
    """Inserts rows of `model` in order: each a tuple of values for the fields named in `columns`."""
    if copy:
        copy_rows(model, columns, rows)
        return
    fields = [model._meta.get_field(name) for name in columns]
    model._default_manager.bulk_create(
        [model(**{field.attname: value for field, value in zip(fields, row, strict=True)}) for row in rows]
    )


def insert_objects(objs: Sequence[models.Model], *, copy: bool) -> None:
    """Inserts new instances of one model, in order. With copy=True, auto-increment ids are not read back."""
    if copy:
        bulk_insert(objs)
    elif objs:
        type(objs[0])._default_manager.bulk_create(objs)


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Inserts rows of `model` in order: each a tuple of values for the fields named in `columns`.

    A value is what the field holds in Python (a dict or list for a JSONField, a str for a choice);
    the database-side defaults of the other columns do not apply, so name every column without one.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    fields = [model._meta.get_field(name) for name in columns]
    if connection.vendor != "postgresql":
        _insert_rows(model, fields, rows)
        return
    json_positions = [index for index, field in enumerate(fields) if isinstance(field, models.JSONField)]
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(field.column) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({column_list}) FROM STDIN"
    # Raw psycopg below: wrap_database_errors turns its errors into Django's, as the ORM's are.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        for row in rows:
            if json_positions:
                row = list(row)
                for index in json_positions:
                    row[index] = _json_text(row[index])
            copy.write_row(row)


def bulk_insert(objs: Sequence[models.Model]) -> None:
    """Inserts new instances of one model, in order. Auto-increment ids are not read back."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[DEFAULT_DB_ALIAS]  # not the proxy: fields ask it for every value
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    fields = [field for field in model._meta.concrete_fields if not field.db_returning]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
    read_row = operator.attrgetter(*(field.attname for field in fields))
    prepared = [(index, field) for index, field in enumerate(fields) if not isinstance(field, models.JSONField)]
    copy_rows(model, [field.name for field in fields], (_native_row(read_row(obj), prepared) for obj in objs))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _native_row(values: tuple[Any, ...], prepared: list[tuple[int, models.Field]]) -> tuple[Any, ...]:
    """Values as psycopg should get them; choices (str subclasses) and the like through their field."""
    if all(type(value) in _NATIVE or isinstance(value, dict | list) for value in values):
        return values
    connection = connections[DEFAULT_DB_ALIAS]
    row = list(values)
    for index, field in prepared:
        if type(row[index]) not in _NATIVE:
            row[index] = field.get_db_prep_save(row[index], connection)
    return tuple(row)


def _json_text(value: Any) -> str | None:
    # orjson, not the stdlib: psycopg's own JSON dumper is the slowest step of a refund's outbox rows.
    return None if value is None else orjson.dumps(value, default=str).decode()


def _insert_rows(model: type[models.Model], fields: list[models.Field], rows: Iterable[Sequence[Any]]) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    prepare: list[Callable[[Any], Any]] = [
        lambda value, field=field: field.get_db_prep_save(value, connection) for field in fields
    ]
    quote = connection.ops.quote_name
    # Names come from the model; every value is a parameter.
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(statement, [[prep(value) for prep, value in zip(prepare, row, strict=True)] for row in rows])
