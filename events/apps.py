from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Declares the runtime's and the gateway's metrics in every process, the one serving /metrics
        # included, so they are listed even before a consumer, relay or gateway records them.
        from events.gateway import metrics as _gateway_metrics  # noqa: F401
        from events.messaging import metrics as _messaging_metrics  # noqa: F401
