from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from events.handlers import register_handler
        from payments.handlers import handle_refund_processed

        register_handler("payment.refund_processed", handle_refund_processed)
