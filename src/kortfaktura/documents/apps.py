from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "kortfaktura.documents"
    verbose_name = "Fakturadokument"

    def ready(self) -> None:
        from kortfaktura.billing.issuing import register_document_check
        from kortfaktura.documents.issuing import validate_before_issue

        register_document_check(validate_before_issue)
