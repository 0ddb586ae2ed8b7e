from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "kortfaktura.cycle"
    label = "cycle"
    verbose_name = "månadscykeln"
    default_auto_field = "django.db.models.BigAutoField"
