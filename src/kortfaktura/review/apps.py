from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "kortfaktura.review"
    verbose_name = "Genomlysning"

    def ready(self) -> None:
        # Registers the job "review" (jobs.services.register), run by the task engine's workers.
        from kortfaktura.review import latest  # noqa: F401
