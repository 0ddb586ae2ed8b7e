"""The review (genomlysning, R18): the same JSON as ``review --json``."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kortfaktura.api.routers.common import require, responses
from kortfaktura.billing.errors import UsageError
from kortfaktura.review.selectors import build_review

router = Router(tags=["genomlysning"])


class Month(Schema):
    month: str
    orders: int
    invoiced: int
    previously_invoiced: int
    not_billable: int
    in_draft: int
    held_back: int
    unbilled: int
    invoiced_net: str
    documents_net: str
    balanced: bool


class HeldBackOrder(Schema):
    order_id: str
    reason: str
    detail: str


class UnbilledOrder(Schema):
    order_id: str
    order_date: str


class PendingChange(Schema):
    id: int
    order_id: str
    invoice_number: int | None
    field: str
    old: str
    new: str


class CustomerDataProblem(Schema):
    orgnr: str
    account_code: str
    severity: str
    problem: str


class CustomerRow(Schema):
    orgnr: str
    name: str
    orders: int
    invoiced: int
    previously_invoiced: int
    not_billable: int
    in_draft: int
    held_back: int
    unbilled: int
    invoiced_net: str


class Numbering(Schema):
    gaps: list[int]


class DocumentProblem(Schema):
    number: int
    problem: str


class Discrepancy(Schema):
    month: str
    order_id: str
    number: int | None
    problem: str


class Export(Schema):
    id: int
    made_at: str
    made_by: str
    from_: str = Field(..., alias="from")
    to: str
    file: str
    sha256: str
    vouchers: int
    debit: str
    documents_now: int
    debit_now: str
    balances_match: bool
    superseded_by: int | None
    matches: bool


class ChainBreak(Schema):
    number: int | None
    problem: str


class Chain(Schema):
    """A hash chain (R19): a number series of documents or the audit trail, with its head."""

    chain: str
    label: str
    length: int
    head_number: int | None
    head_hash: str
    expect: str
    ok: bool
    broken: list[ChainBreak]


class Review(Schema):
    from_: str | None = Field(..., alias="from")
    to: str | None
    balanced: bool
    summary: str
    made_at: str
    made_by: str
    checksum: str
    months: list[Month]
    held_back: list[HeldBackOrder]
    unbilled: list[UnbilledOrder]
    pending_changes: list[PendingChange]
    customer_data: list[CustomerDataProblem]
    customers: list[CustomerRow]
    numbering: Numbering
    invalid_documents: list[int]
    document_problems: list[DocumentProblem]
    discrepancies: list[Discrepancy]
    exports: list[Export]
    unbooked_documents: list[int]
    chains: list[Chain]


class Period(Schema):
    period_from: dt.date | None = Field(None, alias="from", description="första beställningsdag")
    period_to: dt.date | None = Field(None, alias="to", description="sista beställningsdag")


@router.get(
    "",
    response=responses(Review),
    by_alias=True,
    summary="Genomlysningen: varje beställning redovisad per månad (review --json)",
    description=(
        "`balanced` false är ett svar, inget fel: avvikelserna säger vad som inte går ihop."
    ),
)
def review(request: HttpRequest, period: Query[Period]) -> dict[str, Any]:
    """``balanced`` false is an answer, not an error: the discrepancies say what does not add
    up."""
    require(request, "view_review")
    if period.period_from and period.period_to and period.period_from > period.period_to:
        raise UsageError(
            f"from {period.period_from.isoformat()} är efter to {period.period_to.isoformat()} – "
            "byt plats på datumen"
        )
    made = build_review(period.period_from, period.period_to, made_by=request.user.get_username())
    return made.as_json()
