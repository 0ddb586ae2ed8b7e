"""The main menu: each page with the permission that shows it (docs/web.md has the table)."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from kortfaktura.access import scope
from kortfaktura.access.roles import role_of
from kortfaktura.web import how_to


@dataclass(frozen=True)
class Page:
    label: str
    url_name: str
    permissions: tuple[str, ...]  # any one of them shows the page; () = every logged-in user


PAGES: tuple[Page, ...] = (
    Page("Översikt", "overview", ()),
    Page("Import", "imports", ("access.view_billing",)),
    Page("Kunder", "customers", ("access.view_billing",)),
    Page("Priser", "prices", ("access.view_billing",)),
    Page("Beställningar", "orders", ("access.view_billing", "access.view_own")),
    Page("Körningar", "runs", ("access.view_billing",)),
    Page("Fakturor", "invoices", ("access.view_billing", "access.view_own")),
    Page("Ändringar", "changes", ("access.view_billing",)),
    Page("Leveranser", "deliveries", ("access.view_billing",)),
    Page("Betalningar", "payments", ("access.view_billing",)),
    Page("Kundreskontra", "receivables", ("access.view_billing",)),
    Page("Genomlysning", "review", ("access.view_review",)),
    Page("Bokföring", "bookkeeping", ("access.view_billing",)),
    Page("Granskningslogg", "audit", ("access.view_review",)),
    Page("Användare", "users", ("access.manage_users",)),
)


def may_see(user: Any, page: Page) -> bool:
    return not page.permissions or any(user.has_perm(name) for name in page.permissions)


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context for every page: the menu, the user's role and (a Kund's) organisation."""
    user = request.user
    if not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match else None
    section = getattr(request, "kortfaktura_section", None)
    items = [
        {
            "label": page.label,
            "url": reverse(f"web:{page.url_name}"),
            "current": page.url_name in (current, section),
        }
        for page in PAGES
        if may_see(user, page)
    ]
    customer = scope.customer_of(user)
    return {
        "navigation": items,
        "current_role": role_of(user),
        "current_customer": customer,
        "how_to": how_to.steps_for(current, section, kund=customer is not None),
    }
