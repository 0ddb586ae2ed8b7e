from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kortfaktura.billing"
    verbose_name = "Fakturering"
