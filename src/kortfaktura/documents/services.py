"""Writing issued invoices and credit notes as files: one file per document, named by number."""

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kortfaktura.billing.models import Invoice
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.pdf import PdfRenderer
from kortfaktura.documents.spreadsheet import CsvRenderer, XlsxRenderer
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.documents.validation import Finding, get_validator

CHUNK = 200


class Renderer(Protocol):
    extension: str
    media_type: str

    def render(self, document: DocumentData) -> bytes: ...


RENDERERS: dict[str, Callable[[], Renderer]] = {
    "ubl": UblRenderer,
    "pdf": PdfRenderer,
    "xlsx": XlsxRenderer,
    "csv": CsvRenderer,
}


class ExportError(Exception):
    """The documents asked for cannot be exported; the message is Swedish."""


@dataclass
class ExportResult:
    format: str
    directory: Path
    files: list[Path] = field(default_factory=list)
    validated: bool | None = None  # None: not a UBL export; False: the rules were absent
    invalid: dict[int, list[Finding]] = field(default_factory=dict)


def select_documents(run_id: int | None = None, numbers: Iterable[int] = ()) -> list[Invoice]:
    """Issued documents of a run, or the given numbers; refuses unknown or unissued ones."""
    documents = Invoice.objects.select_related("credits").filter(status=Invoice.Status.ISSUED)
    if run_id is not None:
        selected = list(documents.filter(run_id=run_id).order_by("number"))
        if not selected:
            raise ExportError(
                f"körning {run_id} har inga utfärdade fakturor – utfärda den med "
                f"kortfaktura run issue {run_id}"
            )
        return selected
    wanted = list(dict.fromkeys(numbers))
    found = {invoice.number: invoice for invoice in documents.filter(number__in=wanted)}
    missing = [str(number) for number in wanted if number not in found]
    if missing:
        raise ExportError(
            "inga utfärdade dokument med nummer " + ", ".join(missing) + " – se kortfaktura "
            "invoice list"
        )
    return [found[number] for number in wanted]


def _write(path: Path, content: bytes) -> None:
    """Write next to the target and rename, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def export_documents(
    invoices: list[Invoice],
    file_format: str,
    directory: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Render and write each document. A UBL document that fails the official rules is not
    written; it is listed in ``invalid`` with the findings (held back rather than sent wrong)."""
    renderer = RENDERERS[file_format]()
    result = ExportResult(file_format, directory)
    validator = None
    if file_format == "ubl":
        validator = get_validator()
        result.validated = validator is not None
    directory.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(invoices), CHUNK):
        for document in documents_for(invoices[start : start + CHUNK]):
            content = renderer.render(document)
            if validator is not None:
                fatal = validator.fatal(validator.validate(content))
                if fatal:
                    result.invalid[document.number] = fatal
                    continue
            path = directory / f"{document.number}.{renderer.extension}"
            _write(path, content)
            result.files.append(path)
        if progress is not None:
            progress(min(start + CHUNK, len(invoices)), len(invoices))
    return result
