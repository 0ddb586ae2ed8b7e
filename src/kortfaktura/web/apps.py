from django.apps import AppConfig


class WebConfig(AppConfig):
    """The web application for billing staff, finance, auditors and customers (issue 12)."""

    name = "kortfaktura.web"
    label = "web"
    verbose_name = "Webbgränssnitt"

    def ready(self) -> None:
        # Registers the pages' jobs (jobs.services.register): a worker runs them by name.
        from kortfaktura.web.views import (  # noqa: F401
            bookkeeping,
            deliveries,
            imports,
            payments,
            runs,
        )
