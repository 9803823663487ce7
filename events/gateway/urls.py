from django.urls import path, re_path

from events.gateway import views
from events.gateway.log_filters import GATEWAY_NAMESPACE

app_name = GATEWAY_NAMESPACE

urlpatterns = [
    re_path(r"^events/(?P<event_type>[^/]+)/?$", views.publish_events, name="publish"),
    path("event-types/", views.event_type_list, name="event-type-list"),
    path("event-types/<str:event_type>/schema", views.event_type_schema, name="event-type-schema"),
    path("asyncapi.json", views.asyncapi, name="asyncapi"),
]
