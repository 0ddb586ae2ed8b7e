from django.apps import AppConfig


class AccountingConfig(AppConfig):
    name = "kortfaktura.accounting"
    verbose_name = "Bokföring"
