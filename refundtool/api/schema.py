"""The OpenAPI schema and Swagger UI, for authenticated users only.

The schema maps every route and field of the API: for its users (a token or the admin session), not
for anyone who asks. drf-spectacular's views render YAML and HTML; a refusal answers in the service's
one JSON error shape instead, like every other endpoint.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


class _JsonErrorsMixin:
    permission_classes = [IsAuthenticated]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class SchemaView(_JsonErrorsMixin, SpectacularAPIView):
    pass


class SwaggerView(_JsonErrorsMixin, SpectacularSwaggerView):
    pass
