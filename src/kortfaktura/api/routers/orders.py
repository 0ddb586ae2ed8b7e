"""Orders: search and one order with its invoices and history. A Kund sees only its own."""

from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema

from kortfaktura.access import scope
from kortfaktura.api import schemas
from kortfaktura.api.routers.common import TEXT_PATTERN, Page, Paging, require, responses
from kortfaktura.orders import selectors

router = Router(tags=["beställningar"])


class OrderFilters(Schema):
    id: str = Field("", max_length=64, pattern=TEXT_PATTERN, description="beställnings-id (början)")
    orgnr: str = Field("", max_length=20, pattern=r"^[0-9 -]*$", description="organisationsnummer")
    month: str = Field(
        "",
        pattern=r"^(|[0-9]{4}-(0[1-9]|1[0-2]))$",
        description="beställningsmånad ÅÅÅÅ-MM",
    )
    state: Literal[
        "",
        "invoiced",
        "previously_invoiced",
        "not_billable",
        "in_draft",
        "held_back",
        "unbilled",
        "open",
    ] = Field(
        "",
        description="faktureringsläge som i genomlysningen: invoiced (på en utfärdad, okrediterad "
        "faktura), previously_invoiced, not_billable (makulerad), in_draft, held_back, unbilled "
        "(fakturerbar, inte fakturerad än), open (inte fakturerad än: in_draft, held_back eller "
        "unbilled). En Kund ser inte utkast och orsaker: in_draft, held_back och unbilled "
        "räknas då som open.",
    )
    status: Literal[
        "", "ordered", "photographed", "produced", "collected", "expired", "revoked", "cancelled"
    ] = Field("", description="kortets status i kortsystemet")


def _readable(request: HttpRequest) -> None:
    if not request.user.has_perm("access.view_own"):
        require(request, "view_billing")


@router.get("", response=responses(Page[schemas.Order]), summary="Beställningar med filter")
def list_orders(
    request: HttpRequest, filters: Query[OrderFilters], paging: Query[Paging]
) -> dict[str, Any]:
    _readable(request)
    if filters.month.startswith("0000"):
        return {"items": [], "count": 0}  # no year 0 in the calendar, so no orders either
    state: str = filters.state
    if (
        state
        and not request.user.has_perm("access.view_billing")
        and state not in (selectors.OWN_STATES)
    ):
        state = selectors.OPEN  # drafts and hold-back reasons are the seller's business
    rows = selectors.filtered(
        scope.orders(request.user),
        order_id=filters.id,
        orgnr=filters.orgnr,
        month=filters.month,
        state=state,
        status=filters.status,
    ).order_by("order_date", "order_id")
    chunk = list(rows.select_related("customer")[paging.offset : paging.offset + paging.limit])
    return {"items": [selectors.order_json(order) for order in chunk], "count": rows.count()}


@router.get(
    "/{order_id}",
    response=responses(schemas.OrderDetail),
    summary="En beställning med faktura(or) och ändringshistorik",
)
def get_order(
    request: HttpRequest, order_id: str = Path(..., max_length=64, pattern=TEXT_PATTERN)
) -> dict[str, Any]:
    _readable(request)
    order = get_object_or_404(
        scope.orders(request.user).select_related("customer"), order_id=order_id
    )
    return selectors.order_detail_json(
        order,
        scope.invoices(request.user),
        only_own=not request.user.has_perm("access.view_billing"),
    )
