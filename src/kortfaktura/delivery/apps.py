from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "kortfaktura.delivery"
    verbose_name = "Leverans"
