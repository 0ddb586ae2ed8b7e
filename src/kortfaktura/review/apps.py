from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "kortfaktura.review"
    verbose_name = "Genomlysning"

    def ready(self) -> None:
        from kortfaktura.jobs import services as jobs

        # The job "review", by place: a worker imports the review when it runs one.
        jobs.register("review", "kortfaktura.review.latest:review_work")
