from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ (INTERFACES.md)."""

    name = "kortfaktura.api"
    label = "api"
    verbose_name = "REST-API"

    def ready(self) -> None:
        from kortfaktura.jobs import services as jobs

        # The endpoints' jobs, by place (a worker imports the router only when it runs one).
        jobs.register("api.import", "kortfaktura.api.routers.imports:import_work")
        jobs.register("api.payments_import", "kortfaktura.api.routers.payments:import_work")
