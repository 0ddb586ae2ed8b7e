"""Payments and receivables (R21, R22): the same JSON as ``payments list --json`` and
``receivables --json``; staff only (a Kund sees ``paid``/``open`` on its own invoices)."""

import datetime as dt
import shutil
from pathlib import Path as FilePath
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kortfaktura.api import schemas
from kortfaktura.api.routers.common import UPLOAD_ERRORS, Page, Paging, require, responses
from kortfaktura.api.routers.imports import (
    INLINE_BYTES,
    job_json,
    refuse_too_large,
    saved_upload,
)
from kortfaktura.audit.actor import acting_as
from kortfaktura.jobs import services as jobs
from kortfaktura.payments import selectors, services

router = Router(tags=["betalningar"])
receivables_router = Router(tags=["betalningar"])


class Payment(Schema):
    id: int
    paid_on: str
    amount: str
    kind: str
    reference: str
    information: str
    payer: str
    status: str
    matched_by: str | None
    number: str | None
    file: str
    file_id: int
    reason: str | None


class PaymentFilters(Schema):
    status: Literal["matched", "unmatched", "assigned", "refund"] | None = None


class PaymentImport(Schema):
    """As ``import payments FILE --json``."""

    file: str
    format: str
    file_id: int | None
    payments: int
    matched: int
    unmatched: int
    duplicates: int
    amount: str
    already_imported: bool


PAYMENTS_JOB = "payments-import"


@router.post(
    "/import",
    response=responses(PaymentImport, more={202: schemas.Job, **UPLOAD_ERRORS}),
    summary="Läs in en betalfil, BgMax eller camt.054 (som import payments FIL --json)",
    description=(
        "Formatet känns igen på innehållet. Filer upp till 2 MB läses in direkt: 200 med samma "
        "JSON som `import payments --json`. Större filer läses in i bakgrunden: 202 med jobbet, "
        "som följs med `GET /api/v1/jobs/{id}`. En fil som inte går att använda ger 422 och "
        "ingenting bokförs; samma fil igen ändrar ingenting (`already_imported`). Ekonomi."
    ),
)
def import_payment_file(request: HttpRequest, file: File[UploadedFile]) -> Status[dict[str, Any]]:
    require(request, "manage_payments")
    refuse_too_large(file)
    directory, path = saved_upload(file)
    username = request.user.get_username()
    if (file.size or 0) <= INLINE_BYTES:
        try:
            with acting_as(username):
                return Status(200, services.import_payments(path).as_json())
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    try:
        job = jobs.start(
            PAYMENTS_JOB, "payments", f"Betalfil {path.name}", "api.payments_import",
            {"path": str(path)}, actor=username,
        )  # fmt: skip
    except jobs.JobBusy:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Status(202, job_json(job))


def import_work(progress: jobs.Progress, *, path: str) -> dict[str, Any]:
    """The job ``api.payments_import``: a large payment file posted to the API, as the user
    who posted it."""
    target = FilePath(path)
    try:
        progress(0, 1)
        return services.import_payments(target).as_json()
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


@router.get(
    "",
    response=responses(Page[Payment]),
    summary="Betalningar (som payments list --json)",
    description="Inlästa betalningar i ordning, med status och dokumentet de betalade. Personal.",
)
def list_payments(
    request: HttpRequest, filters: Query[PaymentFilters], paging: Query[Paging]
) -> dict[str, Any]:
    require(request, "view_billing")
    rows = selectors.payments(filters.status)
    count = rows.count()
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": selectors.payments_json(chunk), "count": count}


class Item(Schema):
    number: str
    type: str
    credits: str | None
    orgnr: str
    customer_name: str
    account_code: str
    issue_date: str
    due_date: str | None
    payable: str
    paid: str
    credited: str
    open: str
    status: str
    overdue: bool
    days_overdue: int


class CustomerBalance(Schema):
    orgnr: str
    name: str
    open: str
    overdue: str
    credit_balance: str


class ReceivablesReport(Schema):
    at: str
    total_open: str
    credit_balance: str
    items: list[Item]
    customers: list[CustomerBalance]
    ageing: dict[str, str]


class ReceivableFilters(Schema):
    customer: str | None = Field(
        None, max_length=20, pattern=r"^[0-9 -]*$", description="kundens organisationsnummer"
    )
    overdue: bool = Field(False, description="bara förfallna poster")
    all: bool = Field(False, description="alla dokument, även betalda")
    at: dt.date | None = Field(None, description="läget en viss dag (standard i dag)")


@receivables_router.get(
    "",
    response=responses(ReceivablesReport),
    summary="Kundreskontra (som receivables --json)",
    description="Öppna poster, saldo per kund och åldersanalys. Personal.",
)
def get_receivables(request: HttpRequest, filters: Query[ReceivableFilters]) -> dict[str, Any]:
    require(request, "view_billing")
    report = selectors.receivables(
        at=filters.at,
        orgnr=filters.customer or None,
        overdue_only=filters.overdue,
        every_item=filters.all,
    )
    return report.as_json()
