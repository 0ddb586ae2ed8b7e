"""The one place that decides which rows a user may see.

Every view and API operation that shows invoices, documents, orders, deliveries or customers
starts from these querysets, so no page can forget a Kund's scope: a Kund sees its own
organisation's issued documents and orders and nothing else (another organisation's answers 404);
staff roles with ``view_billing`` see everything; anyone else sees nothing.
"""

from typing import Any

from django.db.models import QuerySet

from kortfaktura.billing.models import INTERNAL_KINDS, Invoice
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.delivery.models import Delivery
from kortfaktura.orders.models import Order


def is_staff_reader(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("access.view_billing"))


def customer_of(user: Any) -> Customer | None:
    """The organisation of a Kund, None for everyone else."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm("access.view_own"):
        return None
    profile = getattr(user, "kortfaktura_profile", None)
    return profile.customer if profile is not None else None


def _customer_id(user: Any) -> int | None:
    customer = customer_of(user)
    return customer.pk if customer is not None else None


def _own(rows: QuerySet[Any], user: Any, field: str) -> QuerySet[Any]:
    """All of ``rows`` for staff readers; for a Kund those whose ``field`` is its organisation;
    for anyone else nothing."""
    if is_staff_reader(user):
        return rows
    customer_id = _customer_id(user)
    if customer_id is None:
        return rows.none()
    return rows.filter(**{field: customer_id})


def invoices(user: Any) -> QuerySet[Invoice]:
    """Documents the user may see. A Kund: only its organisation's issued ones, never drafts."""
    rows = _own(Invoice.objects.all(), user, "customer_id")
    return rows if is_staff_reader(user) else rows.filter(status=Invoice.Status.ISSUED)


def document_kinds(user: Any) -> list[str]:
    """The kinds of document the user can meet, to offer as choices: a Kund only those its
    organisation receives (the seller's own units internal charges and credits, R17; everyone
    else invoices and credit notes); staff every kind."""
    kinds = [kind.value for kind in Invoice.Kind]
    if is_staff_reader(user):
        return kinds
    customer = customer_of(user)
    internal = customer is not None and customer.is_seller
    return [kind for kind in kinds if (kind in INTERNAL_KINDS) == internal]


def orders(user: Any) -> QuerySet[Order]:
    return _own(Order.objects.all(), user, "customer_id")


def customers(user: Any) -> QuerySet[Customer]:
    return _own(Customer.objects.all(), user, "pk")


def accounts(user: Any) -> QuerySet[BillingAccount]:
    return _own(BillingAccount.objects.all(), user, "customer_id")


def deliveries(user: Any) -> QuerySet[Delivery]:
    """Deliveries are staff business: a Kund sees none."""
    rows = Delivery.objects.all()
    return rows if is_staff_reader(user) else rows.none()
