from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "bazaar.payments"
    label = "payments"
