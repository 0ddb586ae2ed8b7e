"""Loads what the billing core needs from the database, as plain facts (no ORM objects)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from kortfaktura.billing.core import (
    AccountFacts,
    BillingRequest,
    CustomerFacts,
    NotBillable,
    OrderFacts,
    PriceFacts,
    ProductFacts,
)
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced

ORDERS = Order._meta.db_table
ITEMS = InvoiceItem._meta.db_table
INVOICES = Invoice._meta.db_table
EARLIER = PreviouslyInvoiced._meta.db_table
CHANGES = OrderChange._meta.db_table
# The condition of the partial unique index ``order_invoiced_once``, written the same way so
# that SQLite, too, sees that the index can serve.
ACTIVE_ITEM = "NOT i.credited AND NOT i.is_credit"
FETCH_ROWS = 20_000


@dataclass
class BillingFacts:
    orders: list[OrderFacts]
    products: dict[int, ProductFacts]
    customers: dict[int, CustomerFacts]
    accounts: dict[int, AccountFacts]
    not_billable: dict[NotBillable, int]


def load_facts(request: BillingRequest, run_id: int) -> BillingFacts:
    """Orders in the period that are not on an uncredited invoice item and not invoiced by the
    earlier system, plus those held in another run's draft, with products, customers, accounts.

    Orders that are already invoiced never leave the database: they are only counted, which keeps
    a re-run of a billed period cheap (R5).
    """
    period = [request.period_from, request.period_to]
    customer_clause, customer_params = "", []
    if request.customer_ids is not None:
        ids = sorted(request.customer_ids) or [-1]
        customer_clause = f" AND o.customer_id IN ({', '.join(['%s'] * len(ids))})"
        customer_params = ids
    pending = pending_change_orders()
    day_of = day_parser()
    columns = order_fact_columns()
    # Orgnr, unit and product codes and statuses repeat: share one string for each value.
    shared: dict[str, str] = {}
    share = shared.setdefault
    orders = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {ORDERS} o "
            f"WHERE o.order_date BETWEEN %s AND %s{customer_clause} "
            f"AND NOT EXISTS (SELECT 1 FROM {ITEMS} i WHERE i.order_id = o.id AND {ACTIVE_ITEM}) "
            f"AND NOT EXISTS (SELECT 1 FROM {EARLIER} p WHERE p.order_id = o.order_id)",
            [*period, *customer_params],
        )
        while rows := cursor.fetchmany(FETCH_ROWS):
            for pk, order_id, day, customer, orgnr, unit, product, code, status in rows:
                orders.append(
                    OrderFacts(pk, order_id, day_of(day), customer, share(orgnr, orgnr),
                               share(unit, unit), product, share(code, code), share(status, status),
                               False, False, None, pk in pending)
                )  # fmt: skip
        cursor.execute(
            f"SELECT {columns}, inv.run_id FROM {ITEMS} i "
            f"JOIN {INVOICES} inv ON inv.id = i.invoice_id JOIN {ORDERS} o ON o.id = i.order_id "
            f"WHERE inv.status = 'draft' AND inv.run_id <> %s AND {ACTIVE_ITEM} "
            f"AND o.order_date BETWEEN %s AND %s{customer_clause}",
            [run_id, *period, *customer_params],
        )
        for row in cursor.fetchall():
            pk, order_id, day, customer, orgnr, unit, product, code, status, other_run = row
            orders.append(
                OrderFacts(pk, order_id, day_of(day), customer, orgnr, unit, product, code, status,
                           False, False, other_run, False)
            )  # fmt: skip
        not_billable = _not_billable_counts(
            cursor, period, customer_clause, customer_params, accounted=len(orders)
        )
    products, customers = catalogue_facts()
    return BillingFacts(
        orders=orders,
        products=products,
        customers=customers,
        accounts=account_facts(),
        not_billable=not_billable,
    )


def catalogue_facts() -> tuple[dict[int, ProductFacts], dict[int, CustomerFacts]]:
    """Products with their prices, and customers with their accounts' unit codes."""
    return _products(), _customers()


def order_fact_columns() -> str:
    """The columns of ``orders o`` that an ``OrderFacts`` is made of, in its field order."""
    return (
        f"o.id, o.order_id, {date_text('o.order_date')}, o.customer_id, o.orgnr, o.unit_code, "
        "o.product_id, o.product_code, o.status"
    )


def date_text(column: str) -> str:
    """SQLite: the date as text, parsed once per distinct day (``day_parser``) instead of once
    per row by the driver's converter."""
    return column if connection.vendor == "postgresql" else f"CAST({column} AS TEXT)"


def day_parser() -> Callable[[object], dt.date]:
    """Turns a date column's value (a date, or ISO text from SQLite) into a date, parsing each
    distinct day once."""
    days: dict[object, dt.date] = {}

    def day_of(value: object) -> dt.date:
        day = days.get(value)
        if day is None:
            day = days[value] = (
                value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            )
        return day

    return day_of


def pending_change_orders() -> set[int]:
    return set(
        OrderChange.objects.filter(status=OrderChange.Status.PENDING).values_list(
            "order_id", flat=True
        )
    )


def _not_billable_counts(
    cursor: Any,
    period: list[dt.date],
    customer_clause: str,
    customer_params: list[int],
    *,
    accounted: int,
) -> dict[NotBillable, int]:
    """How many orders of the period the loader left out, and why.

    Counted without a second pass over the invoice items: the orders of the period, less those
    loaded (``accounted``) and those the earlier system invoiced, are on uncredited issued
    invoices. (An order both invoiced here and recorded as invoiced earlier is counted once, as
    earlier; the review reports such orders.)
    """
    cursor.execute(
        f"SELECT COUNT(*) FROM {ORDERS} o WHERE o.order_date BETWEEN %s AND %s{customer_clause}",
        [*period, *customer_params],
    )
    total = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT COUNT(*) FROM {EARLIER} p JOIN {ORDERS} o ON o.order_id = p.order_id "
        f"WHERE o.order_date BETWEEN %s AND %s{customer_clause}",
        [*period, *customer_params],
    )
    earlier = cursor.fetchone()[0]
    counts = {}
    invoiced = total - accounted - earlier
    if invoiced > 0:
        counts[NotBillable.ALREADY_INVOICED] = invoiced
    if earlier:
        counts[NotBillable.PREVIOUSLY_INVOICED] = earlier
    return counts


def _products() -> dict[int, ProductFacts]:
    prices: dict[int, list[PriceFacts]] = defaultdict(list)
    for price in Price.objects.order_by("valid_from"):
        prices[price.product_id].append(
            PriceFacts(
                price.valid_from,
                price.valid_to,
                price.unit_price,
                price.vat_rate,
                price.revenue_account,
            )
        )
    return {
        product.pk: ProductFacts(
            product.pk,
            product.code,
            product.name,
            product.cancelled_billable,
            tuple(prices[product.pk]),
        )
        for product in Product.objects.all()
    }


def _customers() -> dict[int, CustomerFacts]:
    defaults = dict(BillingAccount.objects.filter(is_default=True).values_list("customer_id", "id"))
    units: dict[int, dict[str, int]] = defaultdict(dict)
    for customer_id, code, account_id in UnitCode.objects.values_list(
        "customer_id", "code", "account_id"
    ):
        units[customer_id][code] = account_id
    return {
        pk: CustomerFacts(pk, orgnr, defaults.get(pk), units[pk])
        for pk, orgnr in Customer.objects.values_list("id", "orgnr")
    }


def account_facts() -> dict[int, AccountFacts]:
    return {
        account.pk: AccountFacts(
            account.pk,
            account.customer_id,
            account.code,
            tuple(account.missing_data()),
            account.is_internal,
        )
        for account in BillingAccount.objects.select_related("customer")
    }
