"""Writing many new rows at once, for the hot paths of the consumer and the outbox.

On PostgreSQL the rows go through COPY: psycopg formats each row in C, while bulk_create sends a
column of JSON or text as an array literal that psycopg escapes character by character in Python,
which made that escaping the consumer's largest cost. COPY fires the table's triggers and checks
its constraints like INSERT (the outbox's NOTIFY trigger included) and keeps the rows' order, so
serial ids follow it. Elsewhere (SQLite for local runs) it is bulk_create.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections, models


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
    # pre_save only where it sets the value (auto_now); elsewhere it is the attribute, read directly.
    stamped = {field for field in fields if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)}
    quote = connection.ops.quote_name
    statement = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
    # Raw psycopg below: wrap_database_errors turns its errors into Django's, as the ORM's are.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row(
                [
                    field.get_db_prep_save(
                        field.pre_save(obj, add=True) if field in stamped else getattr(obj, field.attname), connection
                    )
                    for field in fields
                ]
            )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
