from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ (INTERFACES.md)."""

    name = "kortfaktura.api"
    label = "api"
    verbose_name = "REST-API"

    def ready(self) -> None:
        # Registers the jobs "api.import" and "api.payments_import" (jobs.services.register)
        # for the task engine's workers.
        from kortfaktura.api.routers import imports, payments  # noqa: F401
