from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "kortfaktura.documents"
    verbose_name = "Fakturadokument"
