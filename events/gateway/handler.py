"""The WSGI handler of the gateway's publish route: Django's handler with a short middleware chain.

A publish request is a machine's JSON POST of up to 1000 events, authenticated by a bearer token.
The project's middleware serves people in the admin: sessions, users, messages, CSRF, static files,
frame options, per-view Prometheus metrics. None of it does anything for a producer, and together
it cost about 3.5 us of the gateway's 33 us of CPU per event in bench.gateway (batches of 100). This
handler keeps Django's request cycle (request signals, URL resolution, exception handling) and
only the middleware in GATEWAY_MIDDLEWARE; the gateway counts its own requests and events
(events.gateway.metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.module_loading import import_string

# SecurityMiddleware stays: SECURE_SSL_REDIRECT and the security headers are the deployment's policy
# for every route. Only middleware without process_view, process_exception or
# process_template_response hooks may be listed: the chain below does not call them.
GATEWAY_MIDDLEWARE = ("django.middleware.security.SecurityMiddleware",)

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GatewayMiddlewareMixin:
    """load_middleware of a Django handler, building the chain of GATEWAY_MIDDLEWARE only."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)
        for middleware_path in reversed(GATEWAY_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(middleware_path)(handler))
        self._middleware_chain = handler


class GatewayHandler(GatewayMiddlewareMixin, WSGIHandler):
    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        """Django's response, with the Content-Length that CommonMiddleware would have set.

        Without it the web server frames every answer as chunked, and a client learns the length
        of the body only at its end.
        """
        response = super().get_response(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


def route_publishing(application: WSGIApplication) -> WSGIApplication:
    """`application`, except that publish requests (POST /api/events/<event_type>) go to a GatewayHandler.

    Every path under the publish route's prefix goes there, whatever its method: the view answers
    them all, 405 included, and the gateway's error shape stays the same.
    """
    gateway = GatewayHandler()
    publish_prefix = publish_path_prefix()

    def routed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(publish_prefix):
            return gateway(environ, start_response)
        return application(environ, start_response)

    return routed


def publish_path_prefix() -> str:
    """Where the URLconf mounts the publish route, e.g. "/api/events/"."""
    marker = "event_type"
    return reverse("events_gateway:publish", kwargs={"event_type": marker}).removesuffix(marker)
