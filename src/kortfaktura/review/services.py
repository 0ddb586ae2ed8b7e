"""Making the review and writing its reports (``kortfaktura review``)."""

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import transaction

from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.documents.services import os_reason, write_atomically
from kortfaktura.review.report import ExpectedHead, Review
from kortfaktura.review.selectors import build_review


class ReportError(Exception):
    """A report file that cannot be written; Swedish, with what to do."""


def make_review(
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
    *,
    html: Path | None = None,
    xlsx: Path | None = None,
    expected_heads: list[ExpectedHead] | None = None,
) -> tuple[Review, list[Path]]:
    """The review, and the report files asked for, written whole or not at all;
    ``expected_heads``: chain heads kept outside the system, which the chains must still have
    (R19)."""
    targets = [(path, kind) for path, kind in ((html, "html"), (xlsx, "xlsx")) if path is not None]
    for path, kind in targets:
        _check_target(path, kind)
    if html is not None and xlsx is not None and html.resolve() == xlsx.resolve():
        raise ReportError(f"--html och --xlsx pekar på samma fil {html} – ange två olika filer")
    review = build_review(
        period_from, period_to, made_by=current_actor(), expected_heads=expected_heads
    )
    written = []
    for path, kind in targets:
        content = _render(review, kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, content)
        except OSError as error:
            raise ReportError(
                f"rapporten kunde inte skrivas till {path}: {os_reason(error)} – välj en "
                "katalog du kan skriva i"
            ) from error
        written.append(path.resolve())
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
                    "heads": [c.expect for c in review.chains if c.expect],
                },
            )
    return review, written


SUFFIXES = {"html": (".html", ".htm"), "xlsx": (".xlsx",)}


def _check_target(path: Path, kind: str) -> None:
    """A report goes to a new file or replaces an earlier report: never a directory, a device or
    another kind of file (a typo must not overwrite the database)."""
    if path.suffix.lower() not in SUFFIXES[kind]:
        raise ReportError(
            f"--{kind} {path}: filnamnet ska sluta på {' eller '.join(SUFFIXES[kind])}, "
            f"t.ex. var/ut/genomlysning{SUFFIXES[kind][0]}"
        )
    if path.exists() and not path.is_file():
        raise ReportError(
            f"--{kind} {path} finns redan och är ingen vanlig fil (en katalog eller en enhet) – "
            "ange ett filnamn"
        )
    database = Path(str(settings.DATABASES["default"].get("NAME") or ""))
    if path.exists() and database.exists() and path.resolve() == database.resolve():
        raise ReportError(f"--{kind} {path} är databasen – ange ett annat filnamn")


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
