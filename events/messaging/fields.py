"""Model fields of the event tables."""

from __future__ import annotations

from typing import Any

import orjson
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class JSONDocumentField(models.JSONField):
    """A whole message kept as the JSON text written: PostgreSQL's `json`, not `jsonb`.

    The outbox and inbox write thousands of messages a second and read them back whole, never by
    key: `json` only checks the syntax, while `jsonb` converts every document into its binary form,
    which was an eighth of the database's work per consumed refund request. Lookups into the
    document (``message__data__x``) are not supported on PostgreSQL: `json` has no equality.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        # psycopg already decodes `json` columns; SQLite hands over the text.
        return orjson.loads(value) if isinstance(value, str | bytes) else value
