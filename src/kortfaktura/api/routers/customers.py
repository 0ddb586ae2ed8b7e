"""Customers and their billing accounts. A Kund sees only its own organisation."""

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router

from kortfaktura.access import scope
from kortfaktura.api import schemas
from kortfaktura.api.routers.common import TEXT_PATTERN, Page, Paging, require, responses
from kortfaktura.customers import selectors

router = Router(tags=["kunder"])


def _readable(request: HttpRequest) -> None:
    if not request.user.has_perm("access.view_own"):
        require(request, "view_billing")


@router.get("", response=responses(Page[schemas.Customer]), summary="Kunder, sök på namn eller nr")
def list_customers(
    request: HttpRequest,
    paging: Query[Paging],
    search: str = Query("", max_length=200, pattern=TEXT_PATTERN),
) -> dict[str, Any]:
    _readable(request)
    rows = selectors.search(scope.customers(request.user), search).order_by("name", "orgnr")
    chunk = list(rows[paging.offset : paging.offset + paging.limit])
    return {"items": selectors.customers_json(chunk), "count": rows.count()}


@router.get(
    "/{orgnr}",
    response=responses(schemas.CustomerDetail),
    summary="En kund med fakturamottagare, enhetskoder och brister",
)
def get_customer(
    request: HttpRequest, orgnr: str = Path(..., max_length=20, pattern=r"^[0-9-]+$")
) -> dict[str, Any]:
    _readable(request)
    customer = get_object_or_404(scope.customers(request.user), orgnr=orgnr.replace("-", ""))
    return selectors.customer_detail_json(customer, scope.accounts(request.user))
