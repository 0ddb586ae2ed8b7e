from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ (INTERFACES.md)."""

    name = "kortfaktura.api"
    label = "api"
    verbose_name = "REST-API"

    def ready(self) -> None:
        # Registers the job "api.import" (jobs.services.register) for the task engine's workers.
        from kortfaktura.api.routers import imports  # noqa: F401
