"""Invoices, credit notes and internal charges: list, detail, documents, credit (R9–R13)."""

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.errors import ValidationError

from kortfaktura.access import scope
from kortfaktura.api import schemas
from kortfaktura.api.routers.common import (
    MAX_ID,
    TEXT_PATTERN,
    Page,
    Paging,
    require,
    responses,
)
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import selectors, services
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.documents.download import download
from kortfaktura.payments.selectors import with_payment_fields

router = Router(tags=["fakturor"])

MEDIA = {
    "pdf": "application/pdf",
    "ubl": "application/xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class InvoiceFilters(Schema):
    run: int | None = Field(None, ge=1, le=MAX_ID, description="körningens nummer")
    number: int | None = Field(None, ge=0, le=MAX_ID, description="fakturanummer")
    orgnr: str | None = Field(
        None, max_length=20, pattern=r"^[0-9 -]*$", description="kundens organisationsnummer"
    )
    type: Literal["invoice", "credit_note", "internal_charge", "internal_credit"] | None = Field(
        None,
        description=(
            "dokumentets slag; en Kund kan bara välja de slag dess organisation får: invoice och "
            "credit_note, för regionens egna enheter internal_charge och internal_credit"
        ),
    )
    status: Literal["issued", "draft", "all"] = Field(
        "issued", description="utfärdade (standard), utkast eller alla; en Kund ser bara utfärdade"
    )
    issued_from: dt.date | None = Field(None, alias="from", description="fakturadatum från och med")
    issued_to: dt.date | None = Field(None, alias="to", description="fakturadatum till och med")


def _filtered(rows: QuerySet[Invoice], filters: InvoiceFilters) -> QuerySet[Invoice]:
    if filters.status != "all":
        rows = rows.filter(status=filters.status)
    if filters.run is not None:
        rows = rows.filter(run_id=filters.run)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.orgnr:
        rows = rows.filter(customer__orgnr=filters.orgnr.replace("-", "").replace(" ", ""))
    if filters.type:
        rows = rows.filter(kind=filters.type)
    if filters.issued_from:
        rows = rows.filter(issue_date__gte=filters.issued_from)
    if filters.issued_to:
        rows = rows.filter(issue_date__lte=filters.issued_to)
    return rows


def _readable(request: HttpRequest) -> QuerySet[Invoice]:
    if not (
        request.user.has_perm("access.view_billing") or request.user.has_perm("access.view_own")
    ):
        require(request, "view_billing")
    return scope.invoices(request.user)


@router.get(
    "",
    response=responses(Page[schemas.Invoice]),
    summary="Fakturor (som invoice list --json), filtrerade och sidvis",
    description=(
        "Utfärdade dokument i nummerordning (`status=draft` eller `all` för personal). En Kund ser"
        " bara den egna organisationens utfärdade dokument."
    ),
)
def list_invoices(
    request: HttpRequest, filters: Query[InvoiceFilters], paging: Query[Paging]
) -> dict[str, Any]:
    """Issued documents by number (``status=draft`` or ``all`` for staff). A Kund sees only its
    own organisation's issued documents."""
    readable = _readable(request)
    kinds = scope.document_kinds(request.user)
    if filters.type and filters.type not in kinds:
        # As if the schema listed only the Kund's own kinds (R17: internal ones or the others).
        expected = " or ".join(f"'{kind}'" for kind in kinds)
        raise ValidationError(
            [{"loc": ("query", "type"), "type": "literal_error", "ctx": {"expected": expected}}]
        )
    rows = _filtered(readable, filters).select_related("customer", "account", "credits")
    rows = rows.order_by("number", "id")
    count = rows.count()
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    items = with_payment_fields(selectors.invoices_json(chunk), chunk)
    return {"items": items, "count": count}


def _issued(request: HttpRequest, number: int) -> Invoice:
    return get_object_or_404(
        _readable(request)
        .filter(status=Invoice.Status.ISSUED)
        .select_related("customer", "account", "credits"),
        number=number,
    )


@router.get(
    "/{number}",
    response=responses(schemas.InvoiceDetail),
    summary="En faktura med rader och specifikation",
)
def get_invoice(request: HttpRequest, number: int = Path(..., ge=0, le=MAX_ID)) -> dict[str, Any]:
    invoice = _issued(request, number)
    data = with_payment_fields(selectors.invoices_json([invoice]), [invoice])[0]
    data["specification"] = [
        {
            "order_id": item.order_ref,
            "order_date": item.order_date.isoformat() if item.order_date else None,
            "product_code": item.product_code,
            "unit_code": item.unit_code,
            "holder_name": item.holder_name,
            "holder_hsa_id": item.holder_hsa_id,
            "unit_price": f"{item.unit_price:.2f}",
            "credited": item.credited,
        }
        for item in InvoiceItem.objects.filter(invoice=invoice).order_by("order_date", "order_ref")
    ]
    return data


@router.get(
    "/{number}/document",
    response={200: None, **responses(None)},
    summary="Dokumentet som PDF, UBL (Peppol), XLSX eller CSV",
    description=(
        "`ubl` är e-fakturan som lagrades när dokumentet utfärdades (skapas aldrig om); `pdf` "
        "fakturan med specifikation; `xlsx`/`csv` specifikationen. En intern debitering har ingen "
        "UBL (409)."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "Filen",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in MEDIA.values()
                },
            }
        }
    },
)
def get_document(
    request: HttpRequest,
    number: int = Path(..., ge=0, le=MAX_ID),
    format: Literal["pdf", "ubl", "xlsx", "csv"] = Query("pdf"),
) -> HttpResponse:
    """``ubl`` is the e-invoice stored when the document was issued (never rendered again);
    ``pdf`` the invoice with its specification; ``xlsx``/``csv`` the specification. An internal
    charge has no UBL (409)."""
    invoice = _issued(request, number)
    file = download(invoice, format)
    response = HttpResponse(file.content, content_type=MEDIA[format])
    response["Content-Disposition"] = f'attachment; filename="{file.file_name}"'
    return response


class CreditIn(Schema):
    order_ids: list[str] = Field(
        default_factory=list,
        max_length=100_000,
        description="de beställningar som krediteras; tom lista = hela fakturan",
    )
    reason: str = Field(
        ..., min_length=1, max_length=1000, pattern=TEXT_PATTERN, description="varför"
    )


@router.post(
    "/{number}/credit",
    response=responses(schemas.Invoice, status=201),
    summary="Kreditera hela fakturan eller valda beställningar",
    description=(
        "Utfärdar genast en kreditfaktura (eller intern kreditering) för hela fakturan eller de "
        "valda beställningarna; de krediterade beställningarna blir fakturerbara igen (R12). "
        "Svarar som `credit --json`."
    ),
)
def credit(
    request: HttpRequest, body: CreditIn, number: int = Path(..., ge=0, le=MAX_ID)
) -> Status[dict[str, Any]]:
    """Issues a credit note (or an internal credit) at once; the credited orders become
    billable again (R12). Answers the credit note as ``credit --json`` does."""
    require(request, "credit_invoices")
    _issued(request, number)
    with acting_as(request.user.get_username()) as actor:
        credit_note = services.credit_invoice(
            number, order_ids=body.order_ids, reason=body.reason, created_by=actor
        )
    return Status(201, selectors.invoices_json([credit_note])[0])
