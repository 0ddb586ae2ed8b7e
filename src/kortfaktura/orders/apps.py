from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "kortfaktura.orders"
    verbose_name = "Beställningar"
