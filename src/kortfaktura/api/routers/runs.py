"""Billing runs: draft, preview, list, show, issue, discard (R5–R8, R11)."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status

from kortfaktura.api import schemas
from kortfaktura.api.routers.common import MAX_ID, TEXT_PATTERN, Page, Paging, require, responses
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import selectors, services
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem
from kortfaktura.documents.drafts import draft_file_name, render_draft_pdf

router = Router(tags=["körningar"])


class RunIn(Schema):
    """As ``kortfaktura bill``: the order-date period, and optionally the rest."""

    period_from: dt.date = Field(..., alias="from", description="första beställningsdag")
    period_to: dt.date = Field(..., alias="to", description="sista beställningsdag")
    title: str = Field("", max_length=300, pattern=TEXT_PATTERN, description="fakturornas rubrik")
    legacy: bool = Field(False, description="separat fakturering av den äldre perioden (R7)")
    per: Literal["month", "run"] = Field(
        "month", description="month: en faktura per mottagare och månad; run: en per mottagare"
    )
    issue_date: dt.date | None = Field(None, description="fakturadatum (standard: vid utfärdandet)")
    customers: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="bara dessa kunder (organisationsnummer)",
    )


class IssueIn(Schema):
    issue_date: dt.date | None = Field(None, description="fakturadatum (standard: körningens)")


def _create(request: HttpRequest, body: RunIn, *, preview: bool) -> services.DraftResult:
    customers = [orgnr for orgnr in body.customers if orgnr.strip()]
    for orgnr in customers:
        if len(orgnr) > 20 or any(ord(char) < 32 for char in orgnr):
            raise services.UsageError(f"okänt organisationsnummer {orgnr[:20]!r}")
    with acting_as(request.user.get_username()) as actor:
        return services.create_run(
            body.period_from,
            body.period_to,
            title=body.title,
            legacy=body.legacy,
            grouping=body.per,
            issue_date=body.issue_date,
            customers=customers,
            created_by=actor,
            preview=preview,
        )


@router.post(
    "",
    response=responses(schemas.Run, status=201, more={200: schemas.Run}),
    summary="Skapa ett utkast till körning (som bill)",
    description=(
        "201 med utkastet (`run show --json`); 200 med `status` `empty` och inget `id` när inget i"
        " perioden återstår att fakturera (ingen körning sparas, R5)."
    ),
)
def create_run(request: HttpRequest, body: RunIn) -> Status[dict[str, Any]]:
    """201 with the draft (``run show --json``); 200 with ``status`` ``empty`` and no ``id`` when
    nothing in the period is left to bill (no run is kept, R5)."""
    require(request, "draft_runs")
    result = _create(request, body, preview=False)
    if result.run.pk is None:
        return Status(200, selectors.proposal_json(result.run, result.proposal, status="empty"))
    return Status(201, selectors.run_json(result.run))


@router.post(
    "/preview",
    response=responses(schemas.Run),
    summary="Förhandsgranska en körning utan att spara något (som bill --preview)",
)
def preview_run(request: HttpRequest, body: RunIn) -> dict[str, Any]:
    require(request, "draft_runs")
    result = _create(request, body, preview=True)
    return selectors.proposal_json(result.run, result.proposal, status="preview")


def _summaries(runs: list[BillingRun]) -> list[dict[str, Any]]:
    """The runs' totals in two grouped queries for the whole page."""
    ids = [run.pk for run in runs]
    sums: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "invoices": 0,
            "internal_charges": 0,
            "net": Decimal(0),
            "vat": Decimal(0),
            "payable": Decimal(0),
        }
    )
    for row in (
        Invoice.objects.filter(run_id__in=ids, kind__in=("invoice", "internal_charge"))
        .values("run_id", "kind")
        .annotate(number=Count("id"), net=Sum("net"), vat=Sum("vat"), payable=Sum("payable"))
    ):
        entry = sums[row["run_id"]]
        entry["invoices" if row["kind"] == "invoice" else "internal_charges"] += row["number"]
        for name in ("net", "vat", "payable"):
            entry[name] += row[name] or Decimal(0)
    orders = dict(
        InvoiceItem.objects.filter(
            invoice__run_id__in=ids, invoice__kind__in=("invoice", "internal_charge")
        )
        .values("invoice__run_id")
        .annotate(number=Count("id"))
        .values_list("invoice__run_id", "number")
    )
    return [
        {
            "id": run.pk,
            "status": run.status,
            "title": run.title,
            "legacy": run.is_legacy,
            "period_from": run.period_from.isoformat(),
            "period_to": run.period_to.isoformat(),
            "per": run.grouping,
            "issue_date": run.issue_date.isoformat() if run.issue_date else None,
            "created_by": run.created_by,
            "created_at": run.created_at.isoformat(),
            "invoices": sums[run.pk]["invoices"],
            "internal_charges": sums[run.pk]["internal_charges"],
            "orders": orders.get(run.pk, 0),
            "net": f"{sums[run.pk]['net']:.2f}",
            "vat": f"{sums[run.pk]['vat']:.2f}",
            "payable": f"{sums[run.pk]['payable']:.2f}",
        }
        for run in runs
    ]


@router.get("", response=responses(Page[schemas.RunSummary]), summary="Körningar, senaste först")
def list_runs(
    request: HttpRequest,
    paging: Query[Paging],
    status: Literal["draft", "issued", "discarded"] | None = None,
) -> dict[str, Any]:
    require(request, "view_billing")
    rows = BillingRun.objects.order_by("-created_at", "-id")
    if status:
        rows = rows.filter(status=status)
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": _summaries(chunk), "count": rows.count()}


def _run(run_id: int) -> BillingRun:
    return get_object_or_404(BillingRun, pk=run_id)


RUN_ID = Path(..., ge=1, le=MAX_ID)


@router.get("/{run_id}", response=responses(schemas.Run), summary="En körning (run show --json)")
def get_run(request: HttpRequest, run_id: int = RUN_ID) -> dict[str, Any]:
    require(request, "view_billing")
    return selectors.run_json(_run(run_id))


@router.post(
    "/{run_id}/issue",
    response=responses(schemas.Run),
    summary="Utfärda ett utkast: numrera och lås fakturorna",
    description=(
        "Allt eller inget: varje beställning och dokument kontrolleras igen först (R13); ett nej "
        "(409) lämnar utkastet som det var och förbrukar inget nummer. Utförs inom anropet."
    ),
)
def issue_run(request: HttpRequest, body: IssueIn | None = None, run_id: int = RUN_ID) -> Any:
    """All or nothing: every order and document is checked again first (R13); a refusal
    (409) leaves the draft as it was and uses no number. Runs within the request."""
    require(request, "issue_runs")
    _run(run_id)
    with acting_as(request.user.get_username()):
        run = services.issue_run(run_id, body.issue_date if body else None)
    return selectors.run_json(run)


@router.post("/{run_id}/discard", response=responses(schemas.Run), summary="Kassera ett utkast")
def discard_run(request: HttpRequest, run_id: int = RUN_ID) -> dict[str, Any]:
    require(request, "discard_runs")
    _run(run_id)
    with acting_as(request.user.get_username()):
        run = services.discard_run(run_id)
    return selectors.run_json(run)


@router.get(
    "/{run_id}/drafts/{account_code}/{month}",
    response={200: None, **responses(None)},
    summary="Ett utkasts dokument som PDF märkt UTKAST, utan nummer (som run preview)",
    description=(
        "Den som utfärdar öppnar först varje dokument i utkastet (R25). Dokumentet till "
        "fakturamottagaren `account_code` för beställningsmånaden `month` (ÅÅÅÅ-MM; vid en "
        "faktura per körning dess första månad). 404 när körningen inte är ett utkast."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "PDF:en",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def draft_document(
    request: HttpRequest,
    run_id: int = RUN_ID,
    account_code: str = Path(..., min_length=1, max_length=64, pattern=TEXT_PATTERN),
    month: str = Path(..., pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"),
) -> HttpResponse:
    """The draft document of an account and order month as PDF, marked UTKAST (R25)."""
    require(request, "view_billing")
    run = _run(run_id)
    year, number = (int(part) for part in month.split("-"))
    invoice = get_object_or_404(
        Invoice.objects.select_related("account__customer", "customer"),
        run=run,
        status=Invoice.Status.DRAFT,
        account__code=account_code,
        period_start__year=year,
        period_start__month=number,
    )
    content = render_draft_pdf(invoice)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{draft_file_name(invoice)}"'
    return response
