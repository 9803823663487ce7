from django.apps import AppConfig


class RefundToolConfig(AppConfig):
    name = "refundtool"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from refundtool import wiring
        from refundtool.local_state import local_dirs_ensure

        local_dirs_ensure()
        wiring.connect()
