from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "kortfaktura.imports"
    verbose_name = "Importer"
