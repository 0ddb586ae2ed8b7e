from django.apps import AppConfig


class WebConfig(AppConfig):
    """The web application for billing staff, finance, auditors and customers (issue 12)."""

    name = "kortfaktura.web"
    label = "web"
    verbose_name = "Webbgränssnitt"

    def ready(self) -> None:
        from kortfaktura.jobs import services as jobs

        # The pages' jobs, by place (a worker imports a page's module only when it runs one).
        for name, place in (
            ("web.import", "kortfaktura.web.views.imports:import_work"),
            ("web.issue_run", "kortfaktura.web.views.runs:issue_work"),
            ("web.deliver", "kortfaktura.web.views.deliveries:deliver_work"),
            ("web.sie", "kortfaktura.web.views.bookkeeping:sie_work"),
            ("web.payments_import", "kortfaktura.web.views.payments:import_work"),
        ):
            jobs.register(name, place)
