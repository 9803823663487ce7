from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "events.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from events.monitoring import wiring

        wiring.connect()
