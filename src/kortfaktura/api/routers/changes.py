"""Changes to invoiced orders that wait for a decision (R12, R14): list, accept, reject."""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kortfaktura.api import schemas
from kortfaktura.api.routers.common import MAX_ID, TEXT_PATTERN, Page, Paging, require, responses
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import changes as service

router = Router(tags=["ändringar"])


@router.get(
    "",
    response=responses(Page[schemas.Change]),
    summary="Ändringar av fakturerade beställningar (changes list --json)",
)
def list_changes(
    request: HttpRequest,
    paging: Query[Paging],
    status: Literal["pending", "accepted", "rejected", "all"] = "pending",
) -> dict[str, Any]:
    require(request, "view_billing")
    changes = service.list_changes(status)
    return {"items": changes[paging.offset : paging.offset + paging.limit], "count": len(changes)}


class DecisionIn(Schema):
    ids: list[int] = Field(..., min_length=1, max_length=1000, description="ändringarnas id")
    reason: str = Field(..., min_length=1, max_length=1000, pattern=TEXT_PATTERN)


def _checked(body: DecisionIn) -> list[int]:
    if any(not 1 <= change_id <= MAX_ID for change_id in body.ids):
        raise service.ChangeError("ett ändrings-id är ett positivt heltal – se GET /changes")
    return body.ids


@router.post(
    "/accept",
    response=responses(schemas.Decision),
    summary="Godkänn ändringar: beställningarna krediteras och ändringen genomförs",
    description=(
        "Allt eller inget, som `changes accept --json`: varje ändrad beställning krediteras på sin"
        " faktura (en kreditfaktura per faktura), ändringen genomförs och nästa körning fakturerar"
        " beställningen med de nya uppgifterna. En ändring som redan är beslutad ger 409."
    ),
)
def accept(request: HttpRequest, body: DecisionIn) -> dict[str, Any]:
    """All or nothing, like ``changes accept --json``: each changed order is credited on its
    invoice (one credit note per invoice) and the next run bills it with the new data."""
    require(request, "decide_changes")
    ids = _checked(body)
    with acting_as(request.user.get_username()) as actor:
        return service.accept_changes(ids, reason=body.reason, decided_by=actor).as_json()


@router.post(
    "/reject",
    response=responses(schemas.Decision),
    summary="Avvisa ändringar: fakturan står kvar",
    description=(
        "Allt eller inget: fakturan står kvar och beställningen behåller de uppgifter den "
        "fakturerades med. En ändring som redan är beslutad ger 409."
    ),
)
def reject(request: HttpRequest, body: DecisionIn) -> dict[str, Any]:
    require(request, "decide_changes")
    ids = _checked(body)
    with acting_as(request.user.get_username()) as actor:
        return service.reject_changes(ids, reason=body.reason, decided_by=actor).as_json()
