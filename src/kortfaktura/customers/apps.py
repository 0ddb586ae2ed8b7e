from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "kortfaktura.customers"
    verbose_name = "Kunder"
