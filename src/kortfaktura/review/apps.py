from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "kortfaktura.review"
    verbose_name = "Genomlysning"
