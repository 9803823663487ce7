from django.contrib import admin
from django.urls import include, path, re_path

from refundtool import health
from refundtool.api import errors as api_errors

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("monitoring/", include("events.monitoring.urls")),
    path("api/fiscal/", include("fiscalization.urls")),
    path("api/", include("refundtool.api.urls")),
    path("api/", include("events.gateway.urls")),
    re_path(r"^api/", api_errors.not_found),  # nothing else under /api/ answers HTML
    path("", include("django_prometheus.urls")),
]

handler500 = "refundtool.api.errors.server_error"
