from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "kortfaktura.audit"
    verbose_name = "Granskningslogg"
