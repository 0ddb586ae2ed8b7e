"""Deliveries of issued documents (R20): status, and a resend on request."""

from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status

from kortfaktura.access import scope
from kortfaktura.api import schemas
from kortfaktura.api.routers.common import MAX_ID, Page, Paging, require, responses
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing.models import Invoice
from kortfaktura.delivery import services

router = Router(tags=["leveranser"])
DeliveryStatus = Literal[
    "queued", "sending", "sent", "delivered", "failed", "rejected", "uncertain"
]


@router.get(
    "",
    response=responses(Page[schemas.Delivery]),
    summary="Leveranser (delivery list --json)",
)
def list_deliveries(
    request: HttpRequest, paging: Query[Paging], status: DeliveryStatus | None = None
) -> dict[str, Any]:
    require(request, "view_billing")
    rows = (
        scope.deliveries(request.user).select_related("invoice").order_by("invoice__number", "id")
    )
    if status:
        rows = rows.filter(status=status)
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": [services.as_json(row) for row in chunk], "count": rows.count()}


class ResendIn(Schema):
    channel: Literal["peppol", "email", "print"] | None = Field(
        None, description="kanal; standard är dokumentets egen"
    )


@router.post(
    "/{number}/resend",
    response=responses(schemas.Delivery, status=201),
    summary="Skicka ett dokument igen (köas till nästa leverans)",
    description=(
        "Registrerar en ny leverans av dokumentet på begäran (i granskningsloggen); nästa "
        "`kortfaktura deliver` skickar den. 409 när kanalen inte kan bära dokumentet eller inte är"
        " inställd."
    ),
)
def resend(
    request: HttpRequest, body: ResendIn | None = None, number: int = Path(..., ge=0, le=MAX_ID)
) -> Status[dict[str, Any]]:
    """Records a new delivery of the document on the caller's request (in the audit trail);
    ``kortfaktura deliver`` (or the delivery service) sends it. 409 when the channel cannot
    be used for this document or is not set up."""
    require(request, "deliver_documents")
    get_object_or_404(scope.invoices(request.user), number=number, status=Invoice.Status.ISSUED)
    with acting_as(request.user.get_username()):
        row = services.resend(number, body.channel if body else None)
    return Status(201, services.as_json(row))
