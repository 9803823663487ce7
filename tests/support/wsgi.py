"""Calling the project's WSGI application in-process, as a WSGI server would."""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponse


def wsgi_call(environ: dict[str, Any]) -> HttpResponse:
    """The response of refundtool.wsgi.application (the web process's entry point) to one request.

    Like Django's test client, the request does not close the test's database connection: the
    test's transaction stays open across it.
    """
    from refundtool.wsgi import application

    statuses: list[str] = []
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        response.content = b"".join(response)
        response.close()  # as a server does: request_finished
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    [status] = statuses
    assert status.startswith(f"{response.status_code} "), status
    return response
