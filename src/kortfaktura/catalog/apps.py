from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "kortfaktura.catalog"
    verbose_name = "Artiklar och priser"
