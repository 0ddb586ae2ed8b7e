"""Bokföring: the SIE 4 export as a background job, earlier exports and their files, the chart."""

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from kortfaktura import swedish
from kortfaktura.accounting import selectors as bookkeeping
from kortfaktura.accounting import services as accounting
from kortfaktura.accounting.models import SieExport
from kortfaktura.accounting.sie import ENCODING
from kortfaktura.audit.models import AuditRecord
from kortfaktura.jobs import services as jobs
from kortfaktura.web.views.common import paginate, require

# SIE 4 files are code page 437 ("#FORMAT PC8"), which is what a finance system expects to read.
CONTENT_TYPE = f"text/plain; charset={ENCODING}"
ROLE_LABELS = {
    "receivable": "Kundfordringar",
    "rounding": "Öresavrundning",
    "internal_cost": "Intern kostnad (interna debiteringar)",
    "internal_revenue": "Intern intäkt (interna debiteringar)",
}


# An empty file is allowed (some ledgers want one per closed period), but never by mistake.
EMPTY_PERIOD = (
    "Perioden har inga verifikationer att exportera: inga utfärdade dokument och inga "
    "betalningar som väntar på bokföring. Filen blir tom; skriv den bara om ekonomisystemet "
    "ska ha en fil även för den här perioden."
)


def export_directory() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def _chart_rows() -> list[dict[str, str]]:
    """The chart of accounts in use, one row per role, with the names the SIE file gives."""
    chart = accounting.chart_in_use()
    accounts: dict[str, Any] = chart["accounts"]
    names: dict[str, str] = settings.ACCOUNT_NAMES
    rows = [{"role": ROLE_LABELS["receivable"], "account": str(accounts["receivable"])}]
    for rate, account in accounts["revenue"].items():
        rows.append({"role": f"Intäkt, {rate} % moms", "account": str(account)})
    for rate, account in accounts["vat"].items():
        rows.append({"role": f"Utgående moms {rate} %", "account": str(account)})
    for key in ("rounding", "internal_cost", "internal_revenue"):
        rows.append({"role": ROLE_LABELS[key], "account": str(accounts[key])})
    for row in rows:
        row["name"] = names.get(row["account"], "")
    return rows


def _parse_date(text: str, label: str, errors: list[str]) -> dt.date | None:
    text = text.strip()
    if not text:
        errors.append(f"Ange {label} som ÅÅÅÅ-MM-DD, t.ex. 2026-10-01.")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label.capitalize()} ”{text}” är inget datum – skriv ÅÅÅÅ-MM-DD.")
        return None


def _default_period(waiting: bookkeeping.Unexported) -> tuple[dt.date, dt.date]:
    """The days holding what no export has booked yet; with everything exported, the month
    before this one (the period a finance officer usually books)."""
    if waiting.first is not None and waiting.last is not None:
        return waiting.first, waiting.last
    first_of_this = timezone.localdate().replace(day=1)
    last = first_of_this - dt.timedelta(days=1)
    return last.replace(day=1), last


def _file_exists(export: SieExport) -> bool:
    try:
        return Path(export.file).is_file()
    except (OSError, ValueError):
        return False


def _page(
    request: HttpRequest,
    form: dict[str, str],
    errors: list[str],
    status: int = 200,
    waiting: bookkeeping.Unexported | None = None,
) -> HttpResponse:
    exports = SieExport.objects.order_by("-made_at", "-id")
    page = paginate(request, exports, size=20)
    for export in page.rows:
        export.file_exists = _file_exists(export)
    running = jobs.running("sie", "sie")
    context = {
        "page_title": "Bokföring",
        "form": form,
        "errors": errors,
        "page": page,
        "chart": _chart_rows(),
        "series": accounting.chart_in_use()["series"],
        "may_export": request.user.has_perm("access.export_bookkeeping"),
        "running": running,
        "waiting": waiting or bookkeeping.unexported(),
    }
    return render(request, "web/bookkeeping/index.html", context, status=status)


@require("access.view_billing")
def index(request: HttpRequest) -> HttpResponse:
    waiting = bookkeeping.unexported()
    first, last = _default_period(waiting)
    # "Ändra perioden" on the preview comes back with the period chosen there.
    form = {
        "from": request.GET.get("from") or first.isoformat(),
        "to": request.GET.get("to") or last.isoformat(),
    }
    return _page(request, form, [], waiting=waiting)


def _period(form: dict[str, str], errors: list[str]) -> tuple[dt.date, dt.date] | None:
    period_from = _parse_date(form["from"], "första fakturadatum", errors)
    period_to = _parse_date(form["to"], "sista fakturadatum", errors)
    if period_from and period_to and period_from > period_to:
        errors.append(
            f"Första fakturadatum {period_from.isoformat()} är efter sista "
            f"{period_to.isoformat()} – byt plats på datumen."
        )
    if errors or period_from is None or period_to is None:
        return None
    return period_from, period_to


def _preview_page(
    request: HttpRequest,
    preview: bookkeeping.ExportPreview,
    form: dict[str, str],
    errors: list[str],
    status: int = 200,
) -> HttpResponse:
    context = {
        "page_title": "Granska SIE-exporten",
        "preview": preview,
        "form": form,
        "errors": errors,
        "reason_limit": accounting.REASON_LIMIT,
        "not_ended": preview.period_to >= timezone.localdate(),
        "empty_message": EMPTY_PERIOD,
        "running": jobs.running("sie", "sie"),
    }
    return render(request, "web/bookkeeping/preview.html", context, status=status)


@require("access.export_bookkeeping")
def preview(request: HttpRequest) -> HttpResponse:
    """What an export of the period would write and which earlier exports it overlaps, before
    anything is written (issue 21): the export is confirmed from here."""
    if "from" not in request.GET and "to" not in request.GET:
        first, last = _default_period(bookkeeping.unexported())
        form = {"from": first.isoformat(), "to": last.isoformat()}
    else:
        form = {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")}
    errors: list[str] = []
    period = _period(form, errors)
    if period is None:
        return _page(request, form, errors, status=400)
    form["reason"] = ""
    return _preview_page(request, bookkeeping.preview(*period), form, errors)


def sie_work(
    progress: jobs.Progress, *, period_from: str, period_to: str, target: str, reason: str = ""
) -> dict[str, Any]:
    """The job ``web.sie``: writes the SIE file of the period."""
    # export_sie reports no progress of its own: the page says what is going on instead.
    job = jobs.running("sie", "sie")
    if job is not None:
        jobs.step(job.pk, "läser de utfärdade dokumenten och skriver SIE-filen")
    # The overlap is checked again here: another export may have been made since the preview.
    result = accounting.export_sie(
        dt.date.fromisoformat(period_from),
        dt.date.fromisoformat(period_to),
        Path(target),
        reason=reason,
        overlap_needs_reason=True,
    )
    return {
        "url": reverse("web:bookkeeping_export", args=[result.export_id]),
        "link_text": "Visa exporten ("
        + swedish.counted(result.vouchers, "verifikation", "verifikationer")
        + ") och ladda ned filen",
        "export_id": result.export_id,
        "warnings": result.warnings,
    }


@require("access.export_bookkeeping")
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    form = {
        "from": request.POST.get("from", ""),
        "to": request.POST.get("to", ""),
        "reason": request.POST.get("reason", ""),
    }
    errors: list[str] = []
    period = _period(form, errors)
    if period is None:
        return _page(request, form, errors, status=400)
    period_from, period_to = period
    # Refused here with the preview shown again, before a job starts or a file is written.
    planned = bookkeeping.preview(period_from, period_to)
    reason = ""
    shown = request.POST.get("vouchers", "")
    if shown.isdigit() and int(shown) != planned.vouchers:
        # Documents were issued (or payments read) since the preview: what is written must be
        # what the person saw.
        errors.append(
            f"Sedan du granskade har antalet verifikationer ändrats från {shown} till "
            f"{planned.vouchers} – granska siffrorna nedan och bekräfta igen."
        )
    elif planned.booked_payments:
        errors.append(
            f"Perioden har {swedish.counted(planned.booked_payments, 'betalning', 'betalningar')}"
            " som redan bokförts i en tidigare export, och en betalning bokförs bara en gång – "
            "välj en period som börjar efter den exporten."
        )
    elif planned.overlaps:
        try:
            reason = accounting.check_reason(form["reason"])
        except accounting.SieUsageError as error:
            errors.append(
                "Perioden överlappar en tidigare export: "
                + str(error)
                + ". Annars: välj en period som börjar efter den exporten."
            )
    if errors:
        return _preview_page(request, planned, form, errors, status=400)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S-%f")
    target = export_directory() / f"kortfaktura-{period_from}-{period_to}-{stamp}.se"
    label = f"SIE-export {period_from.isoformat()} – {period_to.isoformat()}"
    try:
        job = jobs.start(
            "sie",
            "sie",
            label,
            "web.sie",
            {
                "period_from": period_from.isoformat(),
                "period_to": period_to.isoformat(),
                "target": str(target),
                "reason": reason,
            },
            actor=request.user.get_username(),
        )
    except jobs.JobBusy as busy:
        errors.append(
            f"En SIE-export pågår redan (startad av {busy.running.created_by}) – vänta tills "
            "den är klar och försök sedan igen."
        )
        return _page(request, form, errors, status=409)
    return redirect("web:job", job.pk)


def _warnings(export: SieExport) -> list[str]:
    """The warnings the export gave, as its audit record keeps them (looked up by the indexed
    object label, then matched on the file's checksum)."""
    label = f"SIE {export.period_from.isoformat()}–{export.period_to.isoformat()}"
    for entry in AuditRecord.objects.filter(object=label, action="export.sie").order_by("-id"):
        if entry.details.get("checksum") == export.sha256:
            return [str(warning) for warning in entry.details.get("warnings") or []]
    return []


@require("access.view_billing", section="bookkeeping")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(SieExport, pk=pk)
    context = {
        "page_title": f"SIE-export {export.period_from} – {export.period_to}",
        "export": export,
        "file_exists": _file_exists(export),
        "warnings": _warnings(export),
        "accounts": [
            (account, settings.ACCOUNT_NAMES.get(account, ""), amount)
            for account, amount in sorted(export.by_account.items())
        ],
    }
    return render(request, "web/bookkeeping/detail.html", context)


@require("access.view_billing", section="bookkeeping")
def download(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(SieExport, pk=pk)
    source = Path(export.file)
    try:
        content = source.read_bytes()
    except (OSError, ValueError):
        messages.error(
            request,
            f"Filen {source.name} finns inte längre – gör en ny export av perioden.",
        )
        return redirect("web:bookkeeping_export", export.pk)
    if hashlib.sha256(content).hexdigest() != export.sha256:
        # Only the file as exported is handed out: a changed file is not the books' record.
        messages.error(
            request,
            f"Filen {source.name} har ändrats sedan exporten (kontrollsumman stämmer inte) – "
            "gör en ny export av perioden.",
        )
        return redirect("web:bookkeeping_export", export.pk)
    response = HttpResponse(content, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, source.name)
    return response


urlpatterns = [
    path("bokforing/", index, name="bookkeeping"),
    path("bokforing/granska/", preview, name="bookkeeping_preview"),
    path("bokforing/exportera/", export, name="bookkeeping_new_export"),
    path("bokforing/<int:pk>/", detail, name="bookkeeping_export"),
    path("bokforing/<int:pk>/fil/", download, name="bookkeeping_download"),
]
