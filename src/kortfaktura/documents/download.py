"""One issued document as a file to download (the API, the web pages): its bytes, media type
and file name. A Peppol document is the UBL stored when it was issued (R13); the other formats
are rendered from the document's snapshot."""

from dataclasses import dataclass

from kortfaktura.billing.models import INTERNAL_KINDS, Invoice
from kortfaktura.documents.data import documents_for
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.pdf import RenderError
from kortfaktura.documents.services import RENDERERS, ExportError, verified_content

FORMATS = tuple(sorted(RENDERERS))


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    file_name: str


def download(invoice: Invoice, file_format: str) -> Download:
    """The document in ``file_format``; ``ExportError`` (Swedish) when it cannot be made."""
    if file_format not in RENDERERS:
        raise ExportError(f"okänt format {file_format} – välj något av {', '.join(FORMATS)}")
    if invoice.status != Invoice.Status.ISSUED or invoice.number is None:
        raise ExportError("dokumentet är inte utfärdat och har ingen fil ännu")
    renderer = RENDERERS[file_format]()
    if file_format == "ubl":
        if invoice.kind in INTERNAL_KINDS:
            raise ExportError(
                f"{invoice.get_kind_display()} {invoice.number} är ingen faktura och skickas "
                "aldrig via Peppol – hämta den som pdf, xlsx eller csv"
            )
        stored = IssuedDocument.objects.select_related("invoice").filter(invoice=invoice).first()
        if stored is not None:
            content = verified_content(stored)
            return Download(content, renderer.media_type, f"{invoice.number}.xml")
    try:
        content = renderer.render(documents_for([invoice])[0])
    except RenderError as error:
        raise ExportError(f"dokumentet kunde inte skapas: {error}") from error
    return Download(content, renderer.media_type, f"{invoice.number}.{renderer.extension}")
