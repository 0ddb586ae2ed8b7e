"""Who the caller is."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from kortfaktura.access import scope
from kortfaktura.access.roles import role_of

router = Router(tags=["användare"])


class Me(Schema):
    username: str
    role: str | None
    orgnr: str | None


@router.get("", response=Me, summary="Den inloggade användaren och dess roll")
def me(request: HttpRequest) -> dict[str, Any]:
    role = role_of(request.user)
    customer = scope.customer_of(request.user)
    return {
        "username": request.user.get_username(),
        "role": role.key if role else None,
        "orgnr": customer.orgnr if customer else None,
    }
