"""Writing issued invoices and credit notes as files: one file per document, named by number."""

import contextlib
import hashlib
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Protocol

from django.conf import settings

from kortfaktura.audit.services import record
from kortfaktura.billing.models import Invoice
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.models import DamagedDocument, IssuedDocument
from kortfaktura.documents.pdf import PdfRenderer, RenderError
from kortfaktura.documents.spreadsheet import CsvRenderer, XlsxRenderer
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.documents.validation import Finding, RulesUnusable, get_validator
from kortfaktura.documents.workers import export_chunk as worker_chunk
from kortfaktura.documents.workers import start as workers_start
from kortfaktura.swedish import os_reason  # other layers import it from here too

logger = logging.getLogger(__name__)
CHUNK = 100
_UMASK = os.umask(0o022)
os.umask(_UMASK)
PARALLEL_FROM = 300  # documents; below that, starting processes costs more than it saves
AUDITED_NUMBERS = 100  # document numbers named in an export's audit record; the count is always


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


class TamperedDocument(ExportError):
    """A stored document that no longer matches the hash recorded when it was issued."""


def verified_content(stored: IssuedDocument) -> bytes:
    """The stored UBL of an issued document, exactly as it was issued: refused
    (``TamperedDocument``) when its bytes no longer match the hash recorded on the invoice when
    the number became final. Whatever hands a stored document to anyone (an export, a download,
    a delivery) checks it here first (R13, R20)."""
    try:
        content = stored.unpacked()
    except DamagedDocument as error:
        raise TamperedDocument(str(error)) from None
    if hashlib.sha256(content).hexdigest() != stored.invoice.content_sha256:
        raise TamperedDocument(
            "det lagrade dokumentet stämmer inte med kontrollsumman från utfärdandet – det har "
            "ändrats efteråt; se genomlysningen (kortfaktura review) och utred"
        )
    return content


@dataclass
class ExportResult:
    format: str
    directory: Path
    files: list[Path] = field(default_factory=list)
    validated: bool | None = None  # None: not a UBL export; False: the rules were absent
    invalid: dict[int, list[Finding]] = field(default_factory=dict)
    # Documents that could not be rendered or written, with the reason in Swedish: one document
    # never stops the others (a holder's name no font can show, a name taken by a directory).
    failed: dict[int, str] = field(default_factory=dict)


ChunkOutcome = tuple[list[Path], dict[int, list[Finding]], dict[int, str]]


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


def write_atomically(path: Path, content: bytes) -> None:
    """Write next to the target and rename, so a reader never sees half a file.

    The temporary file gets an unpredictable name and is created exclusively (``O_EXCL``, which
    never follows a link planted at that name) in the target's own directory; ``os.replace``
    then swaps it in, replacing a link at the final name rather than writing through it."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)  # as an ordinary new file, not 0600
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def export_documents(
    invoices: list[Invoice],
    file_format: str,
    directory: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    run_id: int | None = None,
) -> ExportResult:
    """Render and write each document. A UBL document that fails the official rules is not
    written; it is listed in ``invalid`` with the findings (held back rather than sent wrong).
    A document that cannot be rendered or written is listed in ``failed`` with the reason; the
    others are written all the same. A directory that cannot take files raises ``ExportError``.

    Large exports are shared among ``settings.DOCUMENT_WORKERS`` processes (a PDF takes about
    30 ms, validating a UBL document about 15 ms; thousands of them add up)."""
    result = ExportResult(file_format, directory)
    prepare_directory(directory)
    if file_format == "ubl":
        try:
            result.validated = get_validator() is not None
        except RulesUnusable as error:
            raise ExportError(str(error)) from None
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
    _record_export(result, invoices, run_id)
    return result


def _record_export(result: ExportResult, invoices: list[Invoice], run_id: int | None) -> None:
    """The audit record of an export (R19): what was written where, and what was not."""
    numbers = sorted(invoice.number for invoice in invoices if invoice.number is not None)
    if run_id is not None:
        label = f"körning {run_id}"
    elif len(numbers) == 1:
        label = f"faktura {numbers[0]}"
    elif numbers:
        label = f"fakturor {numbers[0]}–{numbers[-1]}"
    else:
        label = "inga dokument"
    details = {
        "format": result.format,
        "directory": str(result.directory.resolve()),
        "documents": len(invoices),
        "numbers": numbers[:AUDITED_NUMBERS],
        "files": len(result.files),
        "invalid": sorted(result.invalid),
        "failed": sorted(result.failed),
    }
    if run_id is not None:
        details["run"] = run_id
    record("export.documents", label, details)


def prepare_directory(directory: Path) -> None:
    """Create the output directory, or say in Swedish why it cannot take the files."""
    if directory.exists() and not directory.is_dir():
        raise ExportError(
            f"--out {directory} finns redan men är ingen katalog – ange en katalog, t.ex. "
            f"{directory.parent / 'ut'}"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"katalogen {directory} kunde inte skapas: {os_reason(error)}") from None
    try:  # a real probe: permissions, ACLs and read-only file systems all answer here
        descriptor, probe = tempfile.mkstemp(prefix=".kortfaktura-", suffix=".tmp", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise ExportError(
            f"katalogen {directory} går inte att skriva i: {os_reason(error)} – ange en katalog "
            "du får skriva i"
        ) from None


def _collect(
    result: ExportResult,
    outcomes: Iterable[ChunkOutcome],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    for files, invalid, failed in outcomes:
        result.files.extend(files)
        result.invalid.update(invalid)
        result.failed.update(failed)
        if progress is not None:
            progress(len(result.files) + len(result.invalid) + len(result.failed), total)


def export_chunk(invoice_ids: list[int], file_format: str, directory: Path) -> ChunkOutcome:
    renderer = RENDERERS[file_format]()
    validator = get_validator() if file_format == "ubl" else None
    invoices = list(Invoice.objects.select_related("credits").filter(pk__in=invoice_ids))
    invoices.sort(key=lambda invoice: invoice.number or 0)
    files: list[Path] = []
    invalid: dict[int, list[Finding]] = {}
    failed: dict[int, str] = {}
    # A Peppol document is exported as it was issued; one issued before documents were stored
    # (or never issued) is rendered from its snapshot.
    stored = (
        {
            stored.invoice.number: stored
            for stored in IssuedDocument.objects.select_related("invoice").filter(
                invoice_id__in=invoice_ids, invoice__status=Invoice.Status.ISSUED
            )
        }
        if file_format == "ubl"
        else {}
    )
    for document in documents_for(invoices):
        if file_format == "ubl" and document.is_internal:
            failed[document.number] = internal_ubl_refusal(document.type_label)
            continue
        try:
            original = stored.get(document.number)
            content = verified_content(original) if original else renderer.render(document)
        except TamperedDocument as error:
            failed[document.number] = f"skrevs inte: {error}"
            continue
        except RenderError as error:
            failed[document.number] = f"kunde inte skapas: {error}"
            continue
        except Exception as error:  # one document that cannot be rendered never stops the rest
            logger.exception("dokument %s kunde inte skapas", document.number)
            failed[document.number] = f"kunde inte skapas: {_render_reason(error)}"
            continue
        if validator is not None:
            fatal = validator.fatal(validator.validate(content))
            if fatal:
                invalid[document.number] = fatal
                continue
        path = directory / f"{document.number}.{renderer.extension}"
        try:
            write_atomically(path, content)
        except OSError as error:
            failed[document.number] = f"{path} kunde inte skrivas: {os_reason(error)}"
            continue
        files.append(path)
    return files, invalid, failed


@dataclass
class RenderedDocument:
    """One issued document as a file to hand to a person (a download)."""

    content: bytes
    media_type: str
    file_name: str


FILE_WORDS = {
    "invoice": "faktura",
    "credit_note": "kreditfaktura",
    "internal_charge": "intern-debitering",
    "internal_credit": "intern-kreditering",
}


def internal_ubl_refusal(type_label: str) -> str:
    return (
        f"{type_label.lower()} är ingen faktura och skickas aldrig via Peppol "
        "(den går till regionens egen enhet) – exportera den som pdf, xlsx eller csv"
    )


def render_one(invoice: Invoice, file_format: str) -> RenderedDocument:
    """One issued document in ``file_format``, by the same rules as ``export_documents``: a
    Peppol document is the stored one as issued, checked against its hash; an internal charge
    has none. Raises ``ExportError`` with the reason in Swedish."""
    if file_format not in RENDERERS:
        raise ExportError(f"okänt format {file_format!r} – välj pdf, ubl, xlsx eller csv")
    if invoice.status != Invoice.Status.ISSUED or invoice.number is None:
        raise ExportError(f"{invoice} är inte utfärdad och har inget dokument")
    renderer = RENDERERS[file_format]()
    document = documents_for([invoice])[0]
    if file_format == "ubl" and document.is_internal:
        raise ExportError(internal_ubl_refusal(document.type_label))
    original = (
        IssuedDocument.objects.select_related("invoice").filter(invoice=invoice).first()
        if file_format == "ubl"
        else None
    )
    try:
        content = verified_content(original) if original else renderer.render(document)
    except TamperedDocument:
        raise
    except RenderError as error:
        raise ExportError(f"dokumentet kunde inte skapas: {error}") from None
    except Exception as error:  # a document that cannot be rendered answers, never crashes
        logger.exception("dokument %s kunde inte skapas", invoice.number)
        raise ExportError(f"dokumentet kunde inte skapas: {_render_reason(error)}") from None
    word = FILE_WORDS.get(invoice.kind, "dokument")
    if file_format in ("xlsx", "csv"):
        word = "specifikation"
    return RenderedDocument(
        content, renderer.media_type, f"{word}-{invoice.number}.{renderer.extension}"
    )


def _render_reason(error: Exception) -> str:
    """The first line of the renderer's message, e.g. Typst's "… could not be displayed …"."""
    text = " ".join(str(error).split())
    return (text[:300] + " …") if len(text) > 300 else (text or type(error).__name__)
