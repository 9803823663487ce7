"""The test database made unreachable for a while, as in an outage, without stopping the server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection

from events.messaging.embedded_broker import free_port


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """This thread's connection points at a port where nothing listens: every query fails as in an outage."""
    connection.close()
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
