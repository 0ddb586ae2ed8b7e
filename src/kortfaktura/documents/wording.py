"""What a document says about itself, in the same words on the PDF and in the XLSX specification:
its heading, what it covers (its own order months, never the whole run's period) and its labels.
"""

import re

from kortfaktura import swedish
from kortfaktura.documents.data import DocumentData

# A title that names a period of dates, as the default run title does
# ("eTjänstekort beställda 2020-02-29 – 2026-10-31"): on one month's invoice it misleads.
PERIOD_IN_TITLE = re.compile(r"\d{4}-\d{2}-\d{2}\s*[–-]\s*\d{4}-\d{2}-\d{2}")


INTERNAL_STEMS = {"internal_charge": "Debiterings", "internal_credit": "Krediterings"}


def number_label(document: DocumentData) -> str:
    """``Fakturanummer``, ``Kreditfakturanummer`` (not "Fakturasnummer"), or for an internal
    charge ``Debiteringsnummer``."""
    return f"{INTERNAL_STEMS.get(document.kind, document.type_label)}nummer"


def date_label(document: DocumentData) -> str:
    return f"{INTERNAL_STEMS.get(document.kind, document.type_label)}datum"


def months_covered(document: DocumentData) -> str:
    """``i oktober 2026`` or ``mars 2020 – maj 2020``: the order months on the document."""
    months = sorted({line.order_month for line in document.lines}) or [
        document.period_start.replace(day=1)
    ]
    if len(months) == 1:
        return f"i {swedish.month(months[0])}"
    return f"{swedish.month(months[0])} – {swedish.month(months[-1])}"


def credited_text(document: DocumentData) -> str:
    """``faktura 104692 av 2026-11-02`` (``intern debitering 90000001 …`` for an internal one)."""
    word = "intern debitering" if document.is_internal else "faktura"
    text = f"{word} {document.credited_number}"
    if document.credited_issue_date is not None:
        text += f" av {document.credited_issue_date.isoformat()}"
    return text


def heading(document: DocumentData) -> str:
    if document.is_credit_note:
        return f"Kreditering av {credited_text(document)}"
    return f"eTjänstekort beställda {months_covered(document)}"


def coverage_verb(document: DocumentData) -> str:
    return "Krediterar" if document.is_credit_note else "Avser"


def covered_orders(document: DocumentData) -> str:
    """``12 beställningar med beställningsdatum 2026-10-01 – 2026-10-31``: the document's own
    orders and dates within the run's period."""
    orders = swedish.counted(len(document.specification), "beställning", "beställningar")
    period = f"{document.period_start.isoformat()} – {document.period_end.isoformat()}"
    return f"{orders} med beställningsdatum {period}"


def coverage(document: DocumentData) -> str:
    """What this document covers, e.g. ``Avser 12 beställningar med beställningsdatum
    2026-10-01 – 2026-10-31``."""
    return f"{coverage_verb(document)} {covered_orders(document)}"


def run_title(document: DocumentData) -> str:
    """The run's title when it tells the reader something the heading does not: a legacy
    title (it names the legacy period, R7) or a title someone wrote; not a default title that
    names the whole run's period."""
    title = document.title
    if document.is_credit_note:
        title = title.split(": ", 1)[1] if ": " in title else ""
    if not title or (PERIOD_IN_TITLE.search(title) and not document.is_legacy):
        return ""
    return title
