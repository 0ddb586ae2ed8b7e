from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Long work (a large import, issuing a run, exports, delivery) in the background."""

    name = "kortfaktura.jobs"
    label = "jobs"
    verbose_name = "Bakgrundsarbeten"
