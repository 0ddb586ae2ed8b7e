from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "kortfaktura.documents"
    verbose_name = "Fakturadokument"

    def ready(self) -> None:
        from kortfaktura.billing.issuing import register_document_check
        from kortfaktura.documents.issuing import check_printable, validate_before_issue

        # The fonts first: cheap, and a refusal there spares the validation.
        register_document_check(check_printable)
        register_document_check(validate_before_issue)
