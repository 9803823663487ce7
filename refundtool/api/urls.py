from django.urls import path

from refundtool.api import views
from refundtool.api.schema import SchemaView, SwaggerView

app_name = "refundtool_api"

urlpatterns = [
    path("refunds/", views.RefundListView.as_view(), name="refund-list"),
    path("refunds/<uuid:refund_id>/", views.RefundDetailView.as_view(), name="refund-detail"),
    path("reports/refunds.csv", views.refunds_csv, name="report-refunds-csv"),
    path("reports/refunds.xlsx", views.refunds_xlsx, name="report-refunds-xlsx"),
    path("reports/reconciliation.csv", views.reconciliation_csv, name="report-reconciliation-csv"),
    path("reports/reconciliation.xlsx", views.reconciliation_xlsx, name="report-reconciliation-xlsx"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("schema/swagger-ui/", SwaggerView.as_view(url_name="refundtool_api:schema"), name="swagger-ui"),
]
