from django.urls import path

from events.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("lag/", views.lag_list, name="lag-list"),
    # path: group ids may contain slashes.
    path("lag/<path:group>", views.lag_detail, name="lag-detail"),
    path("responses", views.responses_list, name="responses"),
]
