"""Writing issued invoices and credit notes as files: one file per document, named by number."""

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Protocol

from django.conf import settings

from kortfaktura.billing.models import Invoice
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.pdf import PdfRenderer
from kortfaktura.documents.spreadsheet import CsvRenderer, XlsxRenderer
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.documents.validation import Finding, get_validator
from kortfaktura.documents.workers import export_chunk as worker_chunk
from kortfaktura.documents.workers import start as workers_start

CHUNK = 100
PARALLEL_FROM = 300  # documents; below that, starting processes costs more than it saves


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
    written; it is listed in ``invalid`` with the findings (held back rather than sent wrong).

    Large exports are shared among ``settings.DOCUMENT_WORKERS`` processes (a PDF takes about
    30 ms, validating a UBL document about 15 ms; thousands of them add up)."""
    result = ExportResult(file_format, directory)
    if file_format == "ubl":
        result.validated = get_validator() is not None
    directory.mkdir(parents=True, exist_ok=True)
    chunks = [
        [invoice.pk for invoice in invoices[start : start + CHUNK]]
        for start in range(0, len(invoices), CHUNK)
    ]
    workers = min(settings.DOCUMENT_WORKERS, len(chunks))
    if workers > 1 and len(invoices) >= PARALLEL_FROM:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=workers_start) as pool:
            outcomes = pool.map(worker_chunk, chunks, repeat(file_format), repeat(directory))
            _collect(result, outcomes, len(invoices), progress)
    else:
        outcomes = map(export_chunk, chunks, repeat(file_format), repeat(directory))
        _collect(result, outcomes, len(invoices), progress)
    return result


def _collect(
    result: ExportResult,
    outcomes: Iterable[tuple[list[Path], dict[int, list[Finding]]]],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    for files, invalid in outcomes:
        result.files.extend(files)
        result.invalid.update(invalid)
        if progress is not None:
            progress(len(result.files) + len(result.invalid), total)


def export_chunk(
    invoice_ids: list[int], file_format: str, directory: Path
) -> tuple[list[Path], dict[int, list[Finding]]]:
    renderer = RENDERERS[file_format]()
    validator = get_validator() if file_format == "ubl" else None
    invoices = list(Invoice.objects.select_related("credits").filter(pk__in=invoice_ids))
    invoices.sort(key=lambda invoice: invoice.number or 0)
    files, invalid = [], {}
    for document in documents_for(invoices):
        content = renderer.render(document)
        if validator is not None:
            fatal = validator.fatal(validator.validate(content))
            if fatal:
                invalid[document.number] = fatal
                continue
        path = directory / f"{document.number}.{renderer.extension}"
        _write(path, content)
        files.append(path)
    return files, invalid
