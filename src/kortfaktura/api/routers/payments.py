"""Payments and receivables (R21, R22): the same JSON as ``payments list --json`` and
``receivables --json``; staff only (a Kund sees ``paid``/``open`` on its own invoices)."""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kortfaktura.api.routers.common import Page, Paging, require, responses
from kortfaktura.payments import selectors

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
