"""How the application names a document: by the order months it covers, never by its run's
period (issue 21, item 5).

A catch-up run for 2020-02-29 – 2026-11-30 gives each of its invoices the run's title
("eTjänstekort beställda 2020-02-29 – 2026-11-30"), and that title is part of the issued
document (R9, UBL note) and stays as issued. In lists, pages, e-mail and the API the document
is named after its own months instead, derived from its period (``period_start`` and
``period_end`` are its first and last order month, within the run's period), so no query is
needed per row.
"""

import datetime as dt
import re
from typing import Protocol

from babel.dates import format_date

from kortfaktura import swedish

# What ``billing.services.default_title`` and ``legacy_title`` put in a title: the run's period
# (and for a legacy run that its orders were not invoiced before). A title without it is one a
# person wrote and is kept.
RUN_PERIOD = re.compile(
    r"(?:\s*[–-]\s*)?(?:eTjänstekort\s+)?beställda\s+\d{4}-\d{2}-\d{2}\s*[–-]\s*\d{4}-\d{2}-\d{2}"
    r"(?:\s+som inte fakturerats tidigare)?"
)
CREDIT_PREFIX = re.compile(r"^(Kreditering av [^:]+):\s*")
LEGACY_NOTE = "som inte fakturerats tidigare"


class Named(Protocol):
    """What naming needs of a document (an Invoice, or a proposed one)."""

    title: str
    is_legacy: bool
    period_start: dt.date
    period_end: dt.date


def _month_name(day: dt.date) -> str:
    return format_date(day, format="LLLL", locale=swedish.LOCALE)


def months_phrase(first: dt.date, last: dt.date) -> str:
    """The order months from ``first`` to ``last``: ``i november 2026``, ``mars–maj 2026``,
    ``december 2025 – februari 2026``."""
    if (first.year, first.month) == (last.year, last.month):
        return f"i {swedish.month(first)}"
    if first.year == last.year:
        return f"{_month_name(first)}–{_month_name(last)} {first.year}"
    return f"{swedish.month(first)} – {swedish.month(last)}"


def own_title(title: str) -> str:
    """The part of a document's title a person wrote: without a credit note's prefix and
    without the run's period that a default or legacy title names ("" when nothing is left)."""
    title = CREDIT_PREFIX.sub("", title)
    return RUN_PERIOD.sub("", title).strip(" –-,")


def heading(document: Named, *, credited: bool = True) -> str:
    """The document's name in the application: ``eTjänstekort beställda i november 2026``;
    ``Höstens kort, beställda mars–maj 2026`` for a title a person wrote; a credit note keeps
    its ``Kreditering av faktura 100001:`` in front (without it when ``credited`` is false:
    where the text already says which invoice is credited)."""
    return heading_of(
        document.title,
        document.is_legacy,
        document.period_start,
        document.period_end,
        credited=credited,
    )


def heading_of(
    title: str,
    is_legacy: bool,
    period_start: dt.date,
    period_end: dt.date,
    *,
    credited: bool = True,
) -> str:
    """``heading`` of a document not (yet) stored: a preview's proposed invoice."""
    months = months_phrase(period_start, period_end)
    written = own_title(title)
    if not written:
        text = f"eTjänstekort beställda {months}"
    elif months.removeprefix("i ") in written:
        text = written  # the person's title already names exactly these months
    else:
        text = f"{written}, beställda {months}"
    if is_legacy and LEGACY_NOTE not in text:
        text = f"{text} {LEGACY_NOTE}"
    prefix = CREDIT_PREFIX.match(title)
    return f"{prefix.group(1)}: {text}" if prefix and credited else text
