from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ (INTERFACES.md)."""

    name = "kortfaktura.api"
    label = "api"
    verbose_name = "REST-API"
