from django.apps import AppConfig


class RefundToolConfig(AppConfig):
    name = "refundtool"
    verbose_name = "Refunds"
