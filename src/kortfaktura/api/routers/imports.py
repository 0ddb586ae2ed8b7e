"""Imports: upload a file, the history, one import's result and its quarantine (R14), and
the background jobs that large uploads run as."""

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Path, Query, Router, Status
from ninja.files import UploadedFile

from kortfaktura.api import schemas
from kortfaktura.api.routers.common import (
    MAX_ID,
    UPLOAD_ERRORS,
    Page,
    Paging,
    TooLarge,
    require,
    responses,
)
from kortfaktura.audit.actor import acting_as
from kortfaktura.imports.models import ImportBatch, QuarantinedRow
from kortfaktura.imports.selectors import batch_json, import_json, quarantine_json
from kortfaktura.imports.services import import_file
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.jobs.selectors import queued

router = Router(tags=["import"])
jobs_router = Router(tags=["import"])

# Files up to this size are imported within the request (a few seconds at most); larger ones
# run in the background and answer 202 with the job to follow.
INLINE_BYTES = 2 * 1024 * 1024
Kind = Literal["customers", "prices", "orders", "billed"]
JOB_KIND = "import"


def _file_name(upload: UploadedFile) -> str:
    """The uploaded file's own name (it is what the trail records), without any directory or
    character a file system refuses."""
    name = FilePath(str(upload.name or "fil")).name.replace("\x00", "")
    name = "".join(char for char in name if char.isprintable()).strip(" .")
    return name[:200] or "fil.csv"


def refuse_too_large(upload: UploadedFile) -> None:
    limit = settings.UPLOAD_LIMIT
    if (upload.size or 0) > limit:
        raise TooLarge(
            f"filen är för stor: {(upload.size or 0) / 1e6:.0f} MB; högst "
            f"{limit / 1e6:.0f} MB tas emot (KORTFAKTURA_UPLOAD_LIMIT) – dela upp filen, t.ex. "
            "per år, och läs in delarna var för sig"
        )


def saved_upload(upload: UploadedFile) -> tuple[FilePath, FilePath]:
    # Under the data directory, which the workers share with the web server (not /tmp).
    uploads = FilePath(settings.DATA_DIR) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    directory = FilePath(tempfile.mkdtemp(prefix="api-", dir=uploads))
    path = directory / _file_name(upload)
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return directory, path


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job.label,
        "status": job.status,
        # Still in the queue: no worker has taken it yet (``status`` stays "running").
        "queued": queued(job) is not None,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "step": job.step,
        "error": job.error or None,
        "result": job.result if job.status == Job.Status.DONE else None,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@router.get("", response=responses(Page[schemas.ImportBatch]), summary="Importhistorik")
def list_imports(
    request: HttpRequest, paging: Query[Paging], kind: Kind | None = None
) -> dict[str, Any]:
    require(request, "view_billing")
    rows = ImportBatch.objects.order_by("-started_at", "-id")
    if kind:
        rows = rows.filter(kind=kind)
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": [batch_json(batch) for batch in chunk], "count": rows.count()}


IMPORT_ID = Path(..., ge=1, le=MAX_ID)
# The numeric routes come first: /imports/{kind} would otherwise take /imports/7 for a kind.


@router.get(
    "/{int:import_id}",
    response=responses(schemas.ImportBatch),
    summary="En import: status, antal och raderna i karantän",
)
def get_import(request: HttpRequest, import_id: int = IMPORT_ID) -> dict[str, Any]:
    require(request, "view_billing")
    return batch_json(get_object_or_404(ImportBatch, pk=import_id), with_rows=True)


@router.get(
    "/{int:import_id}/quarantine",
    response=responses(Page[schemas.QuarantineRowRaw]),
    summary="En imports rader i karantän, med radens innehåll",
    description=(
        "Varje rad som hölls tillbaka, med orsak och radens innehåll (personnummer maskerade, "
        "R16), i radordning."
    ),
)
def get_quarantine(
    request: HttpRequest, paging: Query[Paging], import_id: int = IMPORT_ID
) -> dict[str, Any]:
    """Each row held back with its reason and what the row held (personal identity numbers
    masked, R16), by line."""
    require(request, "view_billing")
    batch = get_object_or_404(ImportBatch, pk=import_id)
    rows = QuarantinedRow.objects.filter(batch=batch).order_by("line", "id")
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": quarantine_json(chunk), "count": rows.count()}


@router.post(
    "/{kind}",
    response=responses(schemas.ImportResult, more={202: schemas.Job, **UPLOAD_ERRORS}),
    summary="Läs in en CSV- eller XLSX-fil (som import KIND FIL --json)",
    description=(
        "Filer upp till 2 MB läses in direkt: 200 med samma antal som `import --json` (varje rad i"
        " karantän i `rows`). Större filer läses in i bakgrunden: 202 med jobbet, som följs med "
        "`GET /api/v1/jobs/{id}` (dess `result` är samma JSON när det är klart). En fil som inte "
        "går att använda ger 422 och ingenting importeras, en större fil än gränsen 413; en "
        "andra stor import av samma slag medan en pågår ger 409."
    ),
)
def upload(request: HttpRequest, kind: Kind, file: File[UploadedFile]) -> Status[dict[str, Any]]:
    """Files up to 2 MB are imported within the request: 200 with the same counts as
    ``import --json`` (every quarantined row in ``rows``). Larger files run in the background:
    202 with the job, to be followed at ``GET /api/v1/jobs/{id}`` (its ``result`` is the same
    JSON when it is done). A file that cannot be used at all answers 422 and imports nothing;
    a second large import of the same kind while one runs answers 409."""
    require(request, "import_files")
    refuse_too_large(file)
    user = request.user
    directory, path = saved_upload(file)
    username = user.get_username()
    if (file.size or 0) <= INLINE_BYTES:
        try:
            with acting_as(username) as actor:
                result = import_file(kind, path, created_by=actor, user_id=user.pk)
                return Status(200, import_json(result))
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    try:
        job = jobs.start(
            JOB_KIND,
            kind,
            f"Import av {path.name}",
            "api.import",
            {"kind": kind, "path": str(path), "user_id": user.pk},
            actor=username,
        )
    except jobs.JobBusy:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Status(202, job_json(job))


def import_work(
    progress: jobs.Progress, *, kind: str, path: str, user_id: int | None
) -> dict[str, Any]:
    """The job ``api.import``: a large file posted to the API, as the user who posted it (the
    job runs acting as its creator)."""
    from kortfaktura.audit.actor import current_actor

    target = FilePath(path)
    try:
        result = import_file(
            kind, target, created_by=current_actor(), user_id=user_id, progress=progress
        )
        return import_json(result)
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


@jobs_router.get(
    "/{job_id}",
    response=responses(schemas.Job),
    summary="Ett bakgrundsarbete: förlopp och resultat",
)
def get_job(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    require(request, "view_billing")
    return job_json(get_object_or_404(Job, pk=job_id))
