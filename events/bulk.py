"""Writing many new rows at once, for the hot paths of the consumer and the outbox.

On PostgreSQL the rows go through COPY: psycopg formats each row in C, while bulk_create sends a
column of JSON or text as an array literal that psycopg escapes character by character in Python,
which made that escaping the consumer's largest cost. COPY fires the table's triggers and checks
its constraints like INSERT (the outbox's NOTIFY trigger included) and keeps the rows' order, so
serial ids follow it. Elsewhere (SQLite for local runs) it is bulk_create.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

# Field types whose preparation for PostgreSQL returns a value of this exact Python type unchanged:
# such a value goes to psycopg as it is, which skips Django's chain of calls for most values.
_SENT_AS_IS: dict[type[models.Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.EmailField: str,
    models.URLField: str,
    models.UUIDField: uuid.UUID,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.DecimalField: Decimal,
}


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
    columns = [_column(field, connection) for field in fields]
    quote = connection.ops.quote_name
    statement = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
    # Raw psycopg below: wrap_database_errors turns its errors into Django's, as the ORM's are.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row([value_of(obj) for value_of in columns])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _column(field: models.Field, connection: BaseDatabaseWrapper) -> Callable[[models.Model], Any]:
    """How to read one column's database value from an instance, as save() would."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    target = field.target_field if field.is_relation else field
    attname, plain = field.attname, _SENT_AS_IS.get(type(target))

    def value_of(obj: models.Model) -> Any:
        value = getattr(obj, attname)
        return value if type(value) is plain else field.get_db_prep_save(value, connection)

    return value_of
