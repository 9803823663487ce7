from django.contrib import admin
from django.urls import include, path

from refundtool import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("monitoring/", include("events.monitoring.urls")),
    path("api/fiscal/", include("fiscalization.urls")),
    path("api/", include("events.gateway.urls")),
    path("", include("django_prometheus.urls")),
]
