"""The checks that every document passes before its number becomes final (issue 7, R9, R11,
R20).

First every text that its PDF would print is checked against the PDF's fonts (``glyphs``).

Billing numbers the documents inside its issuing transaction and asks this check, which renders
each one as Peppol BIS 3 UBL, validates it with the official rules (schema, EN 16931, Peppol and
the Swedish SE-R rules) and returns its SHA-256. Validation of a large run is shared among
``settings.DOCUMENT_WORKERS`` processes; rendering stays here, where the uncommitted documents
can be read.
"""

import hashlib
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from django.conf import settings
from django.db import connection

from kortfaktura.billing.errors import BillingError
from kortfaktura.billing.issuing import DocumentVerdict
from kortfaktura.billing.models import CREDIT_KINDS, Invoice
from kortfaktura.documents.data import documents_for
from kortfaktura.documents.glyphs import unprintable
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.documents.validation import RulesUnusable, get_validator, rules_directory
from kortfaktura.documents.workers import start as workers_start
from kortfaktura.documents.workers import validate_chunk as worker_validate

CHUNK = 100
PARALLEL_FROM = 300  # documents; below that, starting processes costs more than it saves
IN_FLIGHT_PER_WORKER = 3
PASSED = "passed"
UNCHECKED = "unchecked"


SHOWN_PROBLEMS = 10


def check_printable(invoices: list[Invoice]) -> dict[int, DocumentVerdict]:
    """Refuses the issue if a text of any document – a holder's name, the buyer's name and
    address, the title – has a character that the PDF's fonts cannot show (R20): issued, such
    a document could never be e-mailed or printed. Every kind of document, internal ones too."""
    found = []
    for start in range(0, len(invoices), CHUNK):
        found += unprintable(documents_for(invoices[start : start + CHUNK], being_issued=True))
    if not found:
        return {}
    shown = "; ".join(problem.message for problem in found[:SHOWN_PROBLEMS])
    more = f" (och {len(found) - SHOWN_PROBLEMS} till)" if len(found) > SHOWN_PROBLEMS else ""
    if all(invoice.kind in CREDIT_KINDS for invoice in invoices):
        advice = (
            "en kreditfaktura visar fakturans specifikation som den utfärdades, så de "
            "beställningarna kan inte krediteras förrän typsnitten har tecknen – kreditera de "
            "andra beställningarna för sig och kontakta systemförvaltningen"
        )
    else:
        advice = (
            "rätta uppgiften i kortsystemet eller kunduppgifterna och läs in den igen, och kör "
            "sedan kortfaktura run regenerate"
        )
    raise BillingError(
        f"{shown}{more}. Dokumentet skulle aldrig kunna skrivas ut eller skickas med e-post: "
        f"inget har utfärdats och inga nummer har använts – {advice}"
    )


def validate_before_issue(invoices: list[Invoice]) -> dict[int, DocumentVerdict]:
    """A verdict per invoice id: its UBL's hash and, if it fails, the fatal findings."""
    ubl_kinds = [invoice for invoice in invoices if invoice.kind in UBL_KINDS]
    if not ubl_kinds:
        return {}
    try:
        validator_ready = get_validator() is not None
    except RulesUnusable as error:
        raise BillingError(f"{error}; inget har utfärdats och inga nummer har använts") from None
    if not validator_ready and not settings.ISSUE_WITHOUT_VALIDATION:
        raise BillingError(
            f"OpenPeppols valideringsregler finns inte i {rules_directory()}, så dokumenten kan "
            "inte kontrolleras innan de får nummer – ta bort KORTFAKTURA_PEPPOL_RULES_DIR för att "
            "använda reglerna som följer med programmet, eller peka den på en hel kopia av "
            "reglerna (se docs/operations.md)"
        )
    pk_of = {invoice.number or 0: invoice.pk for invoice in ubl_kinds}
    verdicts: dict[int, DocumentVerdict] = {}
    hashes: dict[int, str] = {}
    unrendered: dict[int, str] = {}
    rendered = _archived(_rendered(ubl_kinds, unrendered), pk_of)
    if not validator_ready:
        for number, xml in rendered:
            verdicts[pk_of[number]] = DocumentVerdict(hashlib.sha256(xml).hexdigest(), UNCHECKED)
    else:
        for number, problems in _validated(_hashed(rendered, hashes), len(ubl_kinds)):
            verdicts[pk_of[number]] = DocumentVerdict(hashes[number], PASSED, tuple(problems))
    for number, problem in unrendered.items():
        verdicts[pk_of[number]] = DocumentVerdict("", "", (problem,))
    return verdicts


UBL_KINDS = (Invoice.Kind.INVOICE, Invoice.Kind.CREDIT_NOTE)


def _rendered(invoices: list[Invoice], unrendered: dict[int, str]) -> Iterator[tuple[int, bytes]]:
    """Each document as UBL; one that cannot be written (e.g. a character that XML cannot carry
    in a customer's name) is put in ``unrendered`` with the reason, and the others go on."""
    renderer = UblRenderer()
    for start in range(0, len(invoices), CHUNK):
        for document in documents_for(invoices[start : start + CHUNK], being_issued=True):
            try:
                yield document.number, renderer.render(document)
            except ValueError as error:
                unrendered[document.number] = (
                    f"kan inte skrivas som Peppol-fil ({error}) – oftast ett kontrolltecken i "
                    "kundens eller kortinnehavarens uppgifter; rätta dem och läs in dem igen"
                )


def _archived(
    documents: Iterable[tuple[int, bytes]], pk_of: dict[int, int]
) -> Iterator[tuple[int, bytes]]:
    """Stores each document as rendered, in the issuing transaction: if the issue is refused,
    they go with it; if not, exports and the review read the very bytes that were validated."""
    table = IssuedDocument._meta.db_table
    waiting: list[tuple[int, str, bytes]] = []

    def flush() -> None:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} (invoice_id, format, content) VALUES (%s, %s, %s)", waiting
            )
        waiting.clear()

    for number, xml in documents:
        waiting.append((pk_of[number], "ubl", IssuedDocument.pack(xml)))
        if len(waiting) >= CHUNK:
            flush()
        yield number, xml
    if waiting:
        flush()


def _hashed(
    documents: Iterable[tuple[int, bytes]], hashes: dict[int, str]
) -> Iterator[tuple[int, bytes]]:
    for number, xml in documents:
        hashes[number] = hashlib.sha256(xml).hexdigest()
        yield number, xml


def _chunks(documents: Iterable[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for document in documents:
        chunk.append(document)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _validated(
    documents: Iterable[tuple[int, bytes]], count: int
) -> Iterator[tuple[int, list[str]]]:
    workers = settings.DOCUMENT_WORKERS
    if workers <= 1 or count < PARALLEL_FROM:
        for chunk in _chunks(documents):
            yield from validate_chunk(chunk)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=workers_start) as pool:
        # Chunks go to the workers as soon as they are rendered, so rendering here overlaps
        # validating there; at most a few chunks per worker wait, which bounds the memory.
        waiting: deque[Future[list[tuple[int, list[str]]]]] = deque()
        for chunk in _chunks(documents):
            waiting.append(pool.submit(worker_validate, chunk))
            while len(waiting) > IN_FLIGHT_PER_WORKER * workers:
                yield from waiting.popleft().result()
        while waiting:
            yield from waiting.popleft().result()


def validate_chunk(documents: list[tuple[int, bytes]]) -> list[tuple[int, list[str]]]:
    """(number, fatal findings as text) for each document; runs in a worker process too."""
    validator = get_validator()
    assert validator is not None
    return [
        (number, [str(finding) for finding in validator.fatal(validator.validate(xml))])
        for number, xml in documents
    ]
