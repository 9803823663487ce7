from django.contrib import admin
from django.urls import include, path, re_path

from events.monitoring import views as monitoring_views
from refundtool import health
from refundtool.api import errors as api_errors

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Before admin/: the "Monitoring" app of the admin index opens the monitoring page.
    path("admin/monitoring/", admin.site.admin_view(monitoring_views.dashboard), name="monitoring-dashboard"),
    path("admin/", admin.site.urls),
    path("monitoring/", include("events.monitoring.urls")),
    path("api/fiscal/", include("fiscalization.urls")),
    path("api/", include("refundtool.api.urls")),
    path("api/", include("events.gateway.urls")),
    re_path(r"^api/", api_errors.not_found),  # nothing else under /api/ answers HTML
    path("metrics", monitoring_views.metrics, name="metrics"),
]

handler500 = "refundtool.api.errors.server_error"
