from typing import Any

from django.apps import AppConfig


def _printable(invoices: list[Any]) -> Any:
    from kortfaktura.documents.issuing import check_printable

    return check_printable(invoices)


def _valid(invoices: list[Any]) -> Any:
    from kortfaktura.documents.issuing import validate_before_issue

    return validate_before_issue(invoices)


class DocumentsConfig(AppConfig):
    name = "kortfaktura.documents"
    verbose_name = "Fakturadokument"

    def ready(self) -> None:
        from kortfaktura.billing.issuing import register_document_check

        # The fonts first: cheap, and a refusal there spares the validation. The renderers
        # and the rules are imported when a run is first issued, not when a process starts.
        register_document_check(_printable)
        register_document_check(_valid)
