from django.apps import AppConfig


class FiscalizationConfig(AppConfig):
    name = "fiscalization"
    verbose_name = "Fiscal receipts"

    def ready(self) -> None:
        from fiscalization import wiring

        wiring.connect()
