"""Making the review and writing its reports (``kortfaktura review``)."""

import datetime as dt
from pathlib import Path

from django.db import transaction

from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.documents.services import write_atomically
from kortfaktura.review.report import Review
from kortfaktura.review.selectors import build_review


class ReportError(Exception):
    """A report file that cannot be written; Swedish, with what to do."""


def make_review(
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
    *,
    html: Path | None = None,
    xlsx: Path | None = None,
) -> tuple[Review, list[Path]]:
    """The review, and the report files asked for, written whole or not at all."""
    review = build_review(period_from, period_to, made_by=current_actor())
    written = []
    for path, kind in ((html, "html"), (xlsx, "xlsx")):
        if path is None:
            continue
        content = _render(review, kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, content)
        except OSError as error:
            raise ReportError(
                f"rapporten kunde inte skrivas till {path}: {error.strerror or error} – välj en "
                "katalog du kan skriva i"
            ) from error
        written.append(path)
    if written:
        with transaction.atomic():
            record(
                "review.report",
                f"genomlysning {_period_label(period_from, period_to)}",
                {
                    "files": [str(path) for path in written],
                    "checksum": review.checksum,
                    "balanced": review.balanced,
                    "orders": review.totals.orders,
                },
            )
    return review, written


def _period_label(period_from: dt.date | None, period_to: dt.date | None) -> str:
    if period_from is None and period_to is None:
        return "alla beställningar"
    start = period_from.isoformat() if period_from else "början"
    return f"{start} – {period_to.isoformat() if period_to else 'slutet'}"


def _render(review: Review, kind: str) -> bytes:
    if kind == "html":
        from kortfaktura.review.html import HtmlReport

        return HtmlReport().render(review)
    from kortfaktura.review.spreadsheet import XlsxReport

    return XlsxReport().render(review)
