"""A draft's documents as PDF marked UTKAST, without a number (DOMAIN.md R25): the person who
issues a run opens every draft document first, on the web and with ``kortfaktura run preview``.

Nothing here changes a document: a draft has no number, OCR reference or issue date, and its
PDF says so on every page. Writing the files is audited (``run.previewed``), so the trail shows
that the documents were looked at before they were issued.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from kortfaktura.audit.services import record
from kortfaktura.billing.models import BillingRun, Invoice
from kortfaktura.documents.data import draft_documents_for
from kortfaktura.documents.pdf import PdfRenderer, RenderError
from kortfaktura.documents.services import (
    ExportError,
    os_reason,
    prepare_directory,
    write_atomically,
)

UNSAFE = re.compile(r"[^\w.-]+")


def draft_file_name(invoice: Invoice) -> str:
    """``utkast-1442-2026-10.pdf``: the account code and the order month (or months, for a
    document per account and run) – a draft has no number to name it by."""
    code = UNSAFE.sub("_", invoice.account.code).strip("._") or "mottagare"
    first, last = f"{invoice.period_start:%Y-%m}", f"{invoice.period_end:%Y-%m}"
    months = first if first == last else f"{first}--{last}"
    return f"utkast-{code}-{months}.pdf"


def draft_invoices(run_id: int) -> list[Invoice]:
    """The draft's documents in the order of its page (account code, then month)."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is None:
        raise ExportError(f"körning {run_id} finns inte – se kortfaktura run list")
    if run.status != BillingRun.Status.DRAFT:
        raise ExportError(
            f"körning {run_id} är {run.get_status_display()} – bara ett utkast förhandsgranskas; "
            f"ett utfärdat dokument hämtas med kortfaktura invoice export --run {run_id}"
        )
    return list(
        run.invoices.select_related("account__customer", "customer").order_by(
            "account__code", "period_start", "id"
        )
    )


def render_draft_pdf(invoice: Invoice) -> bytes:
    """One draft document as PDF, marked UTKAST; ``RenderError`` (Swedish) if it cannot be set."""
    return PdfRenderer().render(draft_documents_for([invoice])[0])


@dataclass
class PreviewResult:
    run_id: int
    directory: Path
    files: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file name → reason


def preview_run(run_id: int, directory: Path) -> PreviewResult:
    """Writes one PDF per draft document into ``directory`` (made if need be); a document that
    cannot be rendered or written is listed in ``failed`` and the others are written."""
    invoices = draft_invoices(run_id)
    if not invoices:
        raise ExportError(f"körning {run_id} har inga dokument att förhandsgranska")
    prepare_directory(directory)
    result = PreviewResult(run_id, directory)
    for invoice in invoices:
        name = draft_file_name(invoice)
        try:
            content = render_draft_pdf(invoice)
            write_atomically(directory / name, content)
        except RenderError as error:
            result.failed[name] = str(error)
            continue
        except OSError as error:
            result.failed[name] = f"kunde inte skrivas: {os_reason(error)}"
            continue
        result.files.append(directory / name)
    record(
        "run.previewed",
        f"körning {run_id}",
        {
            "format": "pdf",
            "directory": str(directory.resolve()),
            "documents": len(invoices),
            "files": len(result.files),
            "failed": sorted(result.failed),
        },
    )
    return result
