"""What a new price would touch: orders of a product already billed, or waiting in a draft, from
a given order date on (DOMAIN.md R3: an order's price is the one in force on its order date).

Invoice items are many (one per billed order) and indexed by their invoice only, so the issued
ones are found through their invoices' lines (one per product and order month) first.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet

from kortfaktura.billing.models import CHARGE_KINDS, Invoice, InvoiceItem, InvoiceLine
from kortfaktura.catalog.models import Product


@dataclass(frozen=True)
class BilledFrom:
    orders: int
    latest: dt.date


@dataclass(frozen=True)
class DraftOrders:
    run: int
    orders: int


def _issued_lines(product: Product) -> QuerySet[InvoiceLine]:
    """Lines of ``product`` on issued invoices and internal charges."""
    return InvoiceLine.objects.filter(
        product=product, invoice__status=Invoice.Status.ISSUED, invoice__kind__in=CHARGE_KINDS
    )


def _uncredited(product: Product, lines: QuerySet[InvoiceLine]) -> QuerySet[InvoiceItem]:
    """The uncredited items of ``product`` on the invoices of ``lines``. An issued item carries
    the order date it was billed under (the snapshot, R13)."""
    return InvoiceItem.objects.filter(
        invoice_id__in=lines.values("invoice_id"),
        line__product=product,
        is_credit=False,
        credited=False,
    )


def billed_from(product: Product, day: dt.date) -> BilledFrom | None:
    """Orders of ``product`` dated ``day`` or later on issued, uncredited documents."""
    lines = _issued_lines(product).filter(order_month__gte=day.replace(day=1))
    found = (
        _uncredited(product, lines)
        .filter(order_date__gte=day)
        .aggregate(orders=Count("pk"), latest=Max("order_date"))
    )
    if not found["orders"]:
        return None
    return BilledFrom(found["orders"], found["latest"])


def last_billed_day(product: Product) -> dt.date | None:
    """The latest order date of ``product`` on an issued, uncredited document: a new price that
    ends the current one can start the day after it at the earliest."""
    months = (
        _issued_lines(product)
        .order_by("-order_month")
        .values_list("order_month", flat=True)
        .distinct()
    )
    for month in months:  # the latest month, unless all of it has been credited
        in_month = _issued_lines(product).filter(order_month=month)
        latest = (
            _uncredited(product, in_month)
            .filter(line__order_month=month)
            .aggregate(latest=Max("order_date"))["latest"]
        )
        if latest is not None:
            return latest
    return None


def drafted_from(product: Product, day: dt.date) -> list[DraftOrders]:
    """Per draft run, its orders of ``product`` dated ``day`` or later: a new price from ``day``
    reprices them, and the issue refuses them until the draft is made again."""
    rows = (
        InvoiceItem.objects.filter(
            invoice__status=Invoice.Status.DRAFT,
            invoice__kind__in=CHARGE_KINDS,
            line__product=product,
            is_credit=False,
        )
        # A draft's items get their snapshot when issued: until then the order's date counts.
        .filter(Q(order_date__gte=day) | Q(order_date__isnull=True, order__order_date__gte=day))
        .values("invoice__run_id")
        .annotate(orders=Count("pk"))
        .order_by("invoice__run_id")
    )
    return [DraftOrders(row["invoice__run_id"], row["orders"]) for row in rows]
