"""The latest review's figures, kept so that a page never waits for a review.

On 1,000,000 orders ``build_review`` takes seconds, too long for a page view. The web
application computes it as a background job (``jobs``, kind ``review``, one key per period);
the job keeps a compact copy of the figures in its result (months, held back per reason, the
first findings of each list, counts) and writes the HTML and Excel reports next to it. Pages
read the newest finished job for their period, say how old it is, and whether anything has
changed since: the audit trail records every change (R19), so a change is an audit record
newer than the one the review started after.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.core import HELD_BACK_LABELS, HeldBackReason
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.review.rendering import gap_ranges
from kortfaktura.review.report import STATES, MonthRow, Review, attention

KIND = "review"
# Lists kept in the stored figures are cut here; the reports have every row.
KEEP = 200
# A page starts a new review on its own at most this often when the data has changed.
REFRESH_AFTER = dt.timedelta(minutes=2)
REPORTS_KEPT = 20
# Audit actions that change nothing a review counts (an action not named here counts as a
# change: at worst the review is made once more than needed).
NOT_CHANGES = (
    "inloggning",
    "utloggning",
    "misslyckad inloggning",
    "review.report",
)
NOT_CHANGE_PREFIXES = ("delivery.", "användare ", "API-nyckel", "export.documents")


def key_of(period_from: dt.date | None, period_to: dt.date | None) -> str:
    start = period_from.isoformat() if period_from else ""
    return f"{start}..{period_to.isoformat() if period_to else ''}"


def label_of(period_from: dt.date | None, period_to: dt.date | None) -> str:
    if period_from is None and period_to is None:
        return "Genomlysning av alla beställningar"
    start = period_from.isoformat() if period_from else "början"
    end = period_to.isoformat() if period_to else "sista beställningen"
    return f"Genomlysning av beställningar {start} – {end}"


def _is_change(action: str) -> bool:
    return action not in NOT_CHANGES and not action.startswith(NOT_CHANGE_PREFIXES)


def latest_change() -> int:
    """The id of the newest audit record that is a change of data (0 when there is none).

    Reads backwards from the newest record by primary key and stops at the first change: the
    records after it are few (logins, deliveries), so this stays cheap however long the trail
    is; and the answer is remembered until a newer record is written."""
    newest = AuditRecord.objects.order_by("-id").values_list("id", "at").first()
    seen, change = _remembered.get("last", (False, 0))
    if seen == newest:
        return int(change)
    found = _latest_change()
    _remembered["last"] = (newest, found)  # one assignment: threads never see half of it
    return found


# ((id, time) of the newest audit record, the latest change), in this process.
_remembered: dict[str, Any] = {}


def _latest_change() -> int:
    for pk, action in AuditRecord.objects.order_by("-id").values_list("id", "action")[:200]:
        if _is_change(action):
            return int(pk)
    rest = AuditRecord.objects.exclude(action__in=NOT_CHANGES)
    for prefix in NOT_CHANGE_PREFIXES:
        rest = rest.exclude(action__startswith=prefix)
    return int(rest.order_by("-id").values_list("id", flat=True).first() or 0)


def reports_dir() -> Path:
    return Path(settings.DATA_DIR) / "genomlysning"


def figures(review: Review, mark: int) -> dict[str, Any]:
    """The part of a review a page shows, small enough to keep in a job's result."""
    by_reason: dict[str, dict[str, Any]] = {}
    for finding in review.held_back:
        entry = by_reason.setdefault(
            finding.reason, {"reason": finding.reason, "label": finding.label, "count": 0}
        )
        entry["count"] += 1
    held_back = [
        {
            "order_id": f.order_id,
            "order_date": f.order_date.isoformat(),
            "orgnr": f.orgnr,
            "customer": f.customer,
            "reason": f.reason,
            "label": f.label,
            "action": f.action,
        }
        for f in review.held_back[:KEEP]
    ]
    data = review.as_json()
    errors = sum(1 for p in review.customer_data if p.severity == "error")
    return {
        "from": data["from"],
        "to": data["to"],
        "balanced": review.balanced,
        "summary": review.summary(),
        "made_at": data["made_at"],
        "made_by": review.made_by,
        "checksum": review.checksum,
        "dual_control": review.dual_control,
        "mark": mark,
        "months": data["months"],
        "held_back_count": len(review.held_back),
        "held_back_by_reason": sorted(by_reason.values(), key=lambda e: -e["count"]),
        "held_back": held_back,
        "unbilled_count": len(review.unbilled),
        "pending_changes_count": len(review.pending_changes),
        "pending_changes": data["pending_changes"][:KEEP],
        "customer_data_errors": errors,
        "customer_data_warnings": len(review.customer_data) - errors,
        "customer_data": data["customer_data"][:KEEP],
        "gaps_count": len(review.gaps),
        "gap_ranges": [list(r) for r in gap_ranges(review.gaps)[:KEEP]],
        "invalid_documents_count": len(review.invalid_documents),
        "invalid_documents": data["document_problems"][:KEEP],
        "discrepancies_count": len(review.discrepancies),
        "discrepancies": data["discrepancies"][:KEEP],
        "unbooked_documents_count": len(review.unbooked_documents),
        "payments": data["payments"],
        "needs_attention": review.needs_attention(),
        # What the verdict names (issue 21): each kind that needs a person, with its count;
        # the page is green only when this is empty and everything ties.
        "attention": [
            {"kind": a.kind, "count": a.count, "text": a.text} for a in review.attention()
        ],
        "all_clear": review.all_clear,
        "exports_not_matching": [e for e in data["exports"] if not e["matches"]][:KEEP],
        # The hash chains (R19): heads and whether each holds; their breaks are discrepancies.
        "chains": [
            {**chain, "broken": chain["broken"][:KEEP], "broken_count": len(chain["broken"])}
            for chain in data["chains"]
        ],
    }


def attention_of(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdict's findings of stored figures; figures kept before the verdict named them
    are counted again from what they hold (the SIE exports were not kept then)."""
    if "attention" in figures:
        return list(figures["attention"])
    payments = figures.get("payments") or {}
    counts = {
        "discrepancies": figures.get("discrepancies_count", 0),
        "unbalanced_months": sum(1 for m in figures.get("months", []) if not m["balanced"]),
        "held_back": figures.get("held_back_count", 0),
        "customer_data": figures.get("customer_data_errors", 0)
        + figures.get("customer_data_warnings", 0),
        "pending_changes": figures.get("pending_changes_count", 0),
        "gaps": figures.get("gaps_count", 0),
        "invalid_documents": figures.get("invalid_documents_count", 0),
        "unbooked_documents": figures.get("unbooked_documents_count", 0),
        "unmatched_payments": payments.get("unmatched", 0),
        "refunds": payments.get("refund", 0),
    }
    return [{"kind": a.kind, "count": a.count, "text": a.text} for a in attention(counts)]


def review_work(
    progress: jobs.Progress, *, period_from: str | None = None, period_to: str | None = None
) -> dict[str, Any]:
    """The job ``review``: makes the review of the period and its HTML and Excel reports."""
    from django.urls import reverse

    from kortfaktura.review.services import make_review

    start = dt.date.fromisoformat(period_from) if period_from else None
    end = dt.date.fromisoformat(period_to) if period_to else None
    mark = latest_change()  # before counting: a change made meanwhile makes it stale
    progress(0, 3)
    folder = reports_dir()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    html, xlsx = folder / f"genomlysning-{stamp}.html", folder / f"genomlysning-{stamp}.xlsx"
    review, _ = make_review(start, end, html=html, xlsx=xlsx)
    progress(2, 3)
    _prune(folder)
    query = "&".join(
        f"{name}={value.isoformat()}"
        for name, value in (("from", start), ("to", end))
        if value is not None
    )
    return {
        "url": reverse("web:review") + (f"?{query}" if query else ""),
        "link_text": "Visa genomlysningen",
        "figures": figures(review, mark),
        "files": {"html": str(html), "xlsx": str(xlsx)},
    }


def _prune(folder: Path) -> None:
    """Keep the newest reports only: each review writes two files."""
    files = sorted(folder.glob("genomlysning-*"), key=lambda p: p.name, reverse=True)
    for old in files[REPORTS_KEPT * 2 :]:
        old.unlink(missing_ok=True)


def start(period_from: dt.date | None, period_to: dt.date | None, *, actor: str) -> Job:
    """Start a review of the period in the background; ``JobBusy`` when a review (of any
    period) is running: a review reads every order, so two at once only slow each other and
    the server down."""
    busy = Job.objects.filter(kind=KIND, status=Job.Status.RUNNING).first()
    if busy is not None:
        raise jobs.JobBusy(busy)
    return jobs.start(
        KIND,
        key_of(period_from, period_to),
        label_of(period_from, period_to),
        "review",
        {
            "period_from": period_from.isoformat() if period_from else None,
            "period_to": period_to.isoformat() if period_to else None,
        },
        actor=actor,
    )


@dataclass
class Latest:
    """The newest review of a period, the one being computed, and whether data changed since."""

    job: Job | None  # the newest finished review, None when there is none
    running: Job | None
    changes_since: bool
    failed: Job | None = None  # the newest attempt, when it failed after the newest result

    @property
    def figures(self) -> dict[str, Any] | None:
        if self.job is None:
            return None
        return dict(self.job.result.get("figures") or {})

    @property
    def made_at(self) -> dt.datetime | None:
        found = self.figures
        return dt.datetime.fromisoformat(found["made_at"]) if found else None

    @property
    def age(self) -> dt.timedelta | None:
        made = self.made_at
        return timezone.now() - made if made else None


def latest(
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
    *,
    refresh_as: str | None = None,
) -> Latest:
    """The newest review of the period. With ``refresh_as`` (a user's name), start a new one in
    the background when there is none or the data has changed since, unless one ran a moment
    ago: a page never waits for a review, and a busy system does not review on every view."""
    key = key_of(period_from, period_to)
    done = Job.objects.filter(kind=KIND, key=key, status=Job.Status.DONE).order_by(
        "-created_at", "-pk"
    )
    job = done.first()
    running = jobs.running(KIND, key)
    newest = Job.objects.filter(kind=KIND, key=key).order_by("-created_at", "-pk").first()
    failed = (
        newest
        if newest is not None and newest.status == Job.Status.FAILED and newest != job
        else None
    )
    mark = int((job.result.get("figures") or {}).get("mark") or 0) if job else 0
    changed = job is not None and latest_change() > mark
    found = Latest(job, running, changed, failed)
    if refresh_as and running is None and (job is None or changed):
        recent = newest is not None and newest.created_at > timezone.now() - REFRESH_AFTER
        if not recent:
            try:
                found.running = start(period_from, period_to, actor=refresh_as)
            except jobs.JobBusy as busy:
                found.running = busy.running
            if found.running.finished:  # ran inline (tests), or was very quick
                found.job = found.running if found.running.status == Job.Status.DONE else job
                found.failed = found.running if found.running.status == Job.Status.FAILED else None
                found.running = None
                found.changes_since = False
    return found


def month_rows(stored: dict[str, Any]) -> list[MonthRow]:
    """The stored months as the report's rows (for the charts)."""
    from decimal import Decimal

    rows = []
    for month in stored.get("months", []):
        row = MonthRow(month["month"], orders=month["orders"])
        for state in STATES:
            setattr(row, state, month[state])
        row.invoiced_net = Decimal(month["invoiced_net"])
        row.documents_net = Decimal(month["documents_net"])
        rows.append(row)
    return rows


RELEASES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # reason: (what releases the orders, the page where that is done, who may do it)
    HeldBackReason.UNKNOWN_CUSTOMER: (
        "läs in kunden i kunduppgifterna – beställningarna faktureras av nästa körning",
        "imports",
        ("access.import_files", "access.edit_customers"),
    ),
    HeldBackReason.UNKNOWN_UNIT: (
        "knyt enheten till en fakturamottagare eller ge kunden en standardmottagare",
        "customers",
        ("access.edit_customers",),
    ),
    HeldBackReason.UNKNOWN_PRODUCT: (
        "läs in artikeln med ett pris som gäller på beställningsdagen",
        "prices",
        ("access.edit_prices",),
    ),
    HeldBackReason.NO_PRICE: (
        "läs in ett pris som gäller på beställningsdagen",
        "prices",
        ("access.edit_prices",),
    ),
    HeldBackReason.ACCOUNT_INCOMPLETE: (
        "komplettera fakturamottagaren (adress, beställarreferens, kostnadsställe)",
        "customers",
        ("access.edit_customers",),
    ),
    HeldBackReason.CHANGED_AFTER_INVOICING: (
        "godkänn eller avvisa ändringen av den fakturerade beställningen",
        "changes",
        ("access.decide_changes",),
    ),
    HeldBackReason.IN_OTHER_DRAFT: (
        "utfärda eller kasta det andra utkastet",
        "runs",
        ("access.issue_runs", "access.discard_runs"),
    ),
}


def release_of(reason: str) -> tuple[str, str, tuple[str, ...]]:
    return RELEASES.get(reason, ("se genomlysningen", "review", ("access.view_review",)))


__all__ = [
    "HELD_BACK_LABELS",
    "KIND",
    "Latest",
    "figures",
    "key_of",
    "latest",
    "latest_change",
    "month_rows",
    "release_of",
    "start",
]
