"""What a new price would touch: orders of a product already billed, or waiting in a draft, from
a given order date on (DOMAIN.md R3: an order's price is the one in force on its order date)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce

from kortfaktura.billing.models import CHARGE_KINDS, Invoice, InvoiceItem
from kortfaktura.catalog.models import Product


@dataclass(frozen=True)
class BilledFrom:
    orders: int
    latest: dt.date


@dataclass(frozen=True)
class DraftOrders:
    run: int
    orders: int


# The order date an item was billed under: the issued snapshot, else (a draft) the order's.
BILLED_ON = Coalesce("order_date", "order__order_date")


def _on_or_after(day: dt.date) -> Q:
    return Q(order_date__gte=day) | Q(order_date__isnull=True, order__order_date__gte=day)


def _charged(product: Product, status: str) -> QuerySet[InvoiceItem]:
    """Uncredited items of invoices and internal charges in ``status`` priced for ``product``."""
    return InvoiceItem.objects.filter(
        is_credit=False,
        credited=False,
        invoice__status=status,
        invoice__kind__in=CHARGE_KINDS,
        line__product=product,
    )


def billed_from(product: Product, day: dt.date) -> BilledFrom | None:
    """Orders of ``product`` dated ``day`` or later on issued, uncredited documents."""
    found = (
        _charged(product, Invoice.Status.ISSUED)
        .filter(_on_or_after(day))
        .aggregate(orders=Count("pk"), latest=Max(BILLED_ON))
    )
    if not found["orders"]:
        return None
    return BilledFrom(found["orders"], found["latest"])


def drafted_from(product: Product, day: dt.date) -> list[DraftOrders]:
    """Per draft run, its orders of ``product`` dated ``day`` or later: a new price from ``day``
    reprices them, and the issue refuses them until the draft is made again."""
    rows = (
        _charged(product, Invoice.Status.DRAFT)
        .filter(_on_or_after(day))
        .values("invoice__run_id")
        .annotate(orders=Count("pk"))
        .order_by("invoice__run_id")
    )
    return [DraftOrders(row["invoice__run_id"], row["orders"]) for row in rows]


def last_billed_days() -> dict[int, dt.date]:
    """Per product id, the latest order date on an issued, uncredited document: a new price
    that ends the current one can start the day after it at the earliest."""
    rows = (
        InvoiceItem.objects.filter(
            Q(is_credit=False, credited=False),
            invoice__status=Invoice.Status.ISSUED,
            invoice__kind__in=CHARGE_KINDS,
        )
        .values("line__product_id")
        .annotate(latest=Max(BILLED_ON))
        .order_by()
    )
    return {row["line__product_id"]: row["latest"] for row in rows}
