"""Import: upload a file (run in the background, one import at a time), its result, the history."""

import datetime as dt
import re
import shutil
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.billing import changes
from kortfaktura.imports.engine import ImportFailed
from kortfaktura.imports.models import ImportBatch, ImportKind
from kortfaktura.imports.services import IMPORTERS, import_file
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.orders.selectors import batch_period
from kortfaktura.web.views.common import paginate, require

ALLOWED_SUFFIXES = (".csv", ".xlsx")
JOB_KIND = "import"
JOB_KEY = "import"
KIND_LABELS = dict(ImportKind.choices)


def upload_dir() -> Path:
    return Path(settings.DATA_DIR) / "uploads"


def safe_name(name: str) -> str:
    """A file name without any path, control or shell characters, kept readable (åäö stay)."""
    base = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    cleaned = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    cleaned = re.sub(r"\s+", " ", cleaned)
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    return (f"{stem[:100] or 'fil'}.{suffix.lower()[:10]}" if suffix else stem[:100]) or "fil"


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{swedish.count(size // (1024 * 1024))} MB"
    return f"{swedish.count(max(1, size // 1024))} kB"


def _check_upload(request: HttpRequest, kind: str) -> tuple[dict[str, str], UploadedFile | None]:
    errors: dict[str, str] = {}
    if kind not in IMPORTERS:
        errors["kind"] = (
            "Välj vad filen innehåller: kunder, priser, beställningar eller tidigare fakturerat."
        )
    upload = request.FILES.get("file")
    if upload is None:
        errors["file"] = "Välj en CSV- eller XLSX-fil att läsa in."
        return errors, None
    name = upload.name or ""
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        errors["file"] = (
            f"{safe_name(name)} är varken en CSV- eller en XLSX-fil – spara filen som CSV "
            "(semikolon- eller kommaseparerad) eller Excel-arbetsbok (.xlsx) och försök igen."
        )
    elif not upload.size:
        errors["file"] = f"{safe_name(name)} är tom – välj filen med innehållet och försök igen."
    elif upload.size > settings.UPLOAD_LIMIT:
        errors["file"] = (
            f"Filen är för stor: {safe_name(name)} är {_human_size(upload.size)} – största "
            "tillåtna storlek är "
            f"{_human_size(settings.UPLOAD_LIMIT)}. Dela upp filen och läs in delarna var för sig."
        )
    return errors, upload


def _save(upload: UploadedFile) -> Path:
    """Under DATA_DIR/uploads/<random>/ with the original (safe) name, which the import records."""
    folder = upload_dir() / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / safe_name(upload.name or "fil")
    with target.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return target


def _busy_message(running: Job) -> str:
    return format_html(
        "En import pågår redan ({}, startad av {}) – bara en import i taget. "
        'Vänta tills den är klar: <a href="{}">se hur importen går</a>.',
        running.label,
        running.created_by,
        reverse("web:job", args=[running.pk]),
    )


def _page(request: HttpRequest, *, form: dict[str, Any], status: int = 200) -> HttpResponse:
    # Errors are shown in the page with status 200, as a re-rendered form usually is; a file
    # above the limit answers 413 (Payload Too Large), so that a script sees the refusal too.
    history = paginate(request, ImportBatch.objects.order_by("-started_at", "-id"), size=25)
    return render(
        request,
        "web/imports/index.html",
        {
            "page_title": "Import",
            "kinds": ImportKind.choices,
            "form": form,
            "history": history,
            "running": jobs.running(JOB_KIND, JOB_KEY),
            "may_import": request.user.has_perm("access.import_files"),
            "upload_limit": _human_size(settings.UPLOAD_LIMIT),
            "columns": {
                kind: (importer.required_columns, importer.optional_columns)
                for kind, importer in IMPORTERS.items()
            },
        },
        status=status,
    )


@require("access.view_billing", section="imports")
def index(request: HttpRequest) -> HttpResponse:
    return _page(request, form={"kind": request.GET.get("typ", ""), "errors": {}})


def import_work(
    progress: jobs.Progress, *, kind: str, target: str, actor: str, user_id: int | None
) -> dict[str, Any]:
    """The job ``web.import``: reads an uploaded file (saved under the data directory, which
    the workers share with the web server)."""
    path = Path(target)
    if not path.is_file():
        # A later try of a job whose first try stopped on an unexpected error: the copy went
        # with that try (below), and the server's path means nothing to the person.
        raise ImportFailed(
            f"Den uppladdade filen {path.name} finns inte längre: ett tidigare försök att läsa "
            "in den stoppades av ett oväntat fel (se serverns logg). Ladda upp filen igen."
        )
    # The uploaded copy goes once read, imported or not: the batch keeps its name and
    # checksum, and card holders' names should not lie around in a folder.
    try:
        result = import_file(kind, path, created_by=actor, user_id=user_id, progress=progress)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return {
        "url": reverse("web:import", args=[result.batch_id]),
        "link_text": (
            f"Visa resultatet: {swedish.counted(result.imported, 'ny', 'nya')}, "
            f"{swedish.counted(result.updated, 'ändrad', 'ändrade')}, "
            f"{swedish.counted(result.unchanged, 'oförändrad', 'oförändrade')}, "
            f"{swedish.count(result.quarantined)} i karantän"
        ),
        "batch_id": result.batch_id,
        # Not kept on the batch itself: the result page reads them from here.
        "warnings": result.warnings,
        "suggestions": result.suggestions,
    }


# CSRF is checked by ``_accept`` after the size: an oversized body is refused unread.
@csrf_exempt
@require("access.import_files", section="imports")
def upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("web:imports")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.UPLOAD_LIMIT + 64 * 1024:
        form: dict[str, Any] = {"kind": "", "errors": {}}
        form["errors"]["file"] = (
            "Filen är för stor – största tillåtna storlek är "
            f"{_human_size(settings.UPLOAD_LIMIT)}. "
            "Dela upp filen och läs in delarna var för sig."
        )
        return _page(request, form=form, status=413)
    return _accept(request)


@csrf_protect
def _accept(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    form: dict[str, Any] = {"kind": kind, "errors": {}}
    running = jobs.running(JOB_KIND, JOB_KEY)
    if running is not None:
        form["busy"] = _busy_message(running)
        return _page(request, form=form)
    errors, uploaded = _check_upload(request, kind)
    if errors or uploaded is None:
        form["errors"] = errors
        too_large = uploaded is not None and (uploaded.size or 0) > settings.UPLOAD_LIMIT
        return _page(request, form=form, status=413 if too_large else 200)
    target = _save(uploaded)
    actor = current_actor()
    label = f"Import av {KIND_LABELS[kind].lower()}: {target.name}"
    try:
        job = jobs.start(
            JOB_KIND,
            JOB_KEY,
            label,
            "web.import",
            {"kind": kind, "target": str(target), "actor": actor, "user_id": request.user.pk},
            actor=request.user.get_username(),
        )
    except jobs.JobBusy as busy:
        # Another import started between the check above and this one: drop the saved copy.
        target.unlink(missing_ok=True)
        target.parent.rmdir()
        form["busy"] = _busy_message(busy.running)
        return _page(request, form=form)
    messages.success(request, f"{target.name} tas emot och läses in.")
    return redirect("web:job", job.pk)


# What a finished import of each kind leads to, and where (besides its quarantine).
NEXT_PAGE = {
    ImportKind.CUSTOMERS: (
        "Kontrollera kunderna och deras fakturamottagare; beställningar som hölls "
        "tillbaka för en okänd kund tas med när utkastet görs om eller i nästa körning.",
        "web:customers",
        "Kunder",
    ),
    ImportKind.PRICES: (
        "Kontrollera prislistan; beställningar som saknade pris tas med när "
        "utkastet görs om eller i nästa körning.",
        "web:prices",
        "Priser",
    ),
    ImportKind.BILLED: (
        "Beställningarna är markerade som fakturerade av det tidigare systemet och "
        "tas inte med i någon körning.",
        "web:orders",
        "Beställningar",
    ),
}


def _next_steps(request: HttpRequest, found: ImportBatch, pending: int) -> list[dict[str, str]]:
    """The next steps after an import, each with its page: its quarantine, the changes that
    wait for a decision, and then the draft that bills the imported orders (or the page of
    what was imported)."""
    steps: list[dict[str, str]] = []
    if found.status == ImportBatch.Status.FAILED:
        return [
            {
                "text": "Rätta filen och läs in den igen.",
                "url": reverse("web:imports") + f"?typ={found.kind}",
                "link": "Läs in en fil",
            }
        ]
    if found.status != ImportBatch.Status.COMPLETED:
        return []
    if found.quarantined:
        steps.append(
            {
                "text": (
                    "Granska raden i karantän nedan, rätta den"
                    if found.quarantined == 1
                    else f"Granska de {swedish.count(found.quarantined)} raderna i karantän "
                    "nedan, rätta dem"
                )
                + " i källfilen och läs in filen igen.",
                "url": "#quarantine-heading",
                "link": "Till karantänen",
            }
        )
    if pending:
        steps.append(
            {
                "text": "Besluta om ändringarna av redan fakturerade beställningar.",
                "url": reverse("web:changes"),
                "link": "Till Ändringar",
            }
        )
    if found.kind == ImportKind.ORDERS:
        steps.extend(_draft_step(request, found))
    elif found.kind in NEXT_PAGE:
        text, page, name = NEXT_PAGE[ImportKind(found.kind)]
        steps.append({"text": text, "url": reverse(page), "link": f"Till {name}"})
    return steps


def _draft_step(request: HttpRequest, found: ImportBatch) -> list[dict[str, str]]:
    """A draft of the imported orders' months, up to the end of last month (R24: a month is
    billed when it has ended)."""
    period = batch_period(found.pk)
    if period is None:
        return []
    first, last = period
    last_billable = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    if first > last_billable:
        return [
            {
                "text": f"Beställningarna är från {swedish.month(first)} och faktureras när "
                "månaden är slut.",
                "url": reverse("web:runs"),
                "link": "Till Körningar",
            }
        ]
    start = first.replace(day=1)
    month_end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    end = min(last_billable, month_end)
    months = swedish.month(start)
    if end.replace(day=1) != start:
        months = f"{months} – {swedish.month(end)}"
    if not request.user.has_perm("access.draft_runs"):
        return [
            {
                "text": f"Fakturering gör ett utkast för {months}.",
                "url": reverse("web:runs"),
                "link": "Till Körningar",
            }
        ]
    return [
        {
            "text": f"Skapa ett utkast för {months}.",
            "url": reverse("web:run_new") + f"?period_from={start}&period_to={end}",
            "link": f"Ny körning för {months}",
        }
    ]


@require("access.view_billing", section="imports")
def batch(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(ImportBatch, pk=pk)
    rows = paginate(request, found.quarantined_rows.order_by("line"), size=100)
    recorded = changes.recorded_for_decision(found.pk) if found.kind == ImportKind.ORDERS else 0
    job = Job.objects.filter(kind=JOB_KIND, result__batch_id=found.pk).first()
    outcome = job.result if job is not None else {}
    suggestions = outcome.get("suggestions") or {}
    return render(
        request,
        "web/imports/batch.html",
        {
            "page_title": f"Import {found.pk}",
            "batch": found,
            "rows": rows,
            "total": found.imported + found.updated + found.unchanged + found.quarantined,
            "pending_changes": recorded,
            "pending_total": changes.pending_count() if recorded else 0,
            "next_steps": _next_steps(request, found, recorded),
            "warnings": outcome.get("warnings") or [],
            "unknown_columns": [
                f"{name} (menade du {suggestions[name]}?)" if name in suggestions else name
                for name in found.unknown_columns
            ],
        },
    )


urlpatterns = [
    path("import/", index, name="imports"),
    path("import/las-in/", upload, name="import_upload"),
    path("import/<int:pk>/", batch, name="import"),
]
