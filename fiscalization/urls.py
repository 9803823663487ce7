from django.urls import path

from fiscalization.views import BreachedReceiptsView

app_name = "fiscalization"
urlpatterns = [
    path("receipts/breached", BreachedReceiptsView.as_view(), name="breached-receipts"),
]
