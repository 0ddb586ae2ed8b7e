"""Loads what the billing core needs from the database, as plain facts (no ORM objects)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

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


@dataclass
class BillingFacts:
    orders: list[OrderFacts]
    products: dict[int, ProductFacts]
    customers: dict[int, CustomerFacts]
    accounts: dict[int, AccountFacts]
    not_billable: dict[NotBillable, int]


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


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
    pending = _pending_change_orders()
    orders = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.id, o.order_id, o.order_date, o.customer_id, o.orgnr, o.unit_code, "
            f"o.product_id, o.product_code, o.status FROM {ORDERS} o "
            f"WHERE o.order_date BETWEEN %s AND %s{customer_clause} "
            f"AND NOT EXISTS (SELECT 1 FROM {ITEMS} i WHERE i.order_id = o.id AND {ACTIVE_ITEM}) "
            f"AND NOT EXISTS (SELECT 1 FROM {EARLIER} p WHERE p.order_id = o.order_id)",
            [*period, *customer_params],
        )
        for pk, order_id, day, customer, orgnr, unit, product, code, status in cursor.fetchall():
            orders.append(
                OrderFacts(
                    pk, order_id, _date(day), customer, orgnr, unit, product, code, status,
                    pending_change=pk in pending,
                )
            )  # fmt: skip
        cursor.execute(
            f"SELECT o.id, o.order_id, o.order_date, o.customer_id, o.orgnr, o.unit_code, "
            f"o.product_id, o.product_code, o.status, inv.run_id FROM {ITEMS} i "
            f"JOIN {INVOICES} inv ON inv.id = i.invoice_id JOIN {ORDERS} o ON o.id = i.order_id "
            f"WHERE inv.status = 'draft' AND inv.run_id <> %s AND {ACTIVE_ITEM} "
            f"AND o.order_date BETWEEN %s AND %s{customer_clause}",
            [run_id, *period, *customer_params],
        )
        for row in cursor.fetchall():
            pk, order_id, day, customer, orgnr, unit, product, code, status, other_run = row
            orders.append(
                OrderFacts(
                    pk, order_id, _date(day), customer, orgnr, unit, product, code, status,
                    in_draft_of_run=other_run,
                )
            )  # fmt: skip
    return BillingFacts(
        orders=orders,
        products=_products(),
        customers=_customers(),
        accounts=_accounts(),
        not_billable=_not_billable_counts(request, customer_clause, customer_params),
    )


def _pending_change_orders() -> set[int]:
    return set(
        OrderChange.objects.filter(status=OrderChange.Status.PENDING).values_list(
            "order_id", flat=True
        )
    )


def _not_billable_counts(
    request: BillingRequest, customer_clause: str, customer_params: list[int]
) -> dict[NotBillable, int]:
    period = [request.period_from, request.period_to]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {ORDERS} o WHERE o.order_date BETWEEN %s AND %s"
            f"{customer_clause} AND EXISTS (SELECT 1 FROM {ITEMS} i JOIN {INVOICES} inv "
            f"ON inv.id = i.invoice_id WHERE i.order_id = o.id AND {ACTIVE_ITEM} "
            f"AND inv.status = 'issued')",
            [*period, *customer_params],
        )
        invoiced = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT COUNT(*) FROM {EARLIER} p JOIN {ORDERS} o ON o.order_id = p.order_id "
            f"WHERE o.order_date BETWEEN %s AND %s{customer_clause}",
            [*period, *customer_params],
        )
        earlier = cursor.fetchone()[0]
    counts = {}
    if invoiced:
        counts[NotBillable.ALREADY_INVOICED] = invoiced
    if earlier:
        counts[NotBillable.PREVIOUSLY_INVOICED] = earlier
    return counts


def _products() -> dict[int, ProductFacts]:
    prices: dict[int, list[PriceFacts]] = defaultdict(list)
    for price in Price.objects.order_by("valid_from"):
        prices[price.product_id].append(
            PriceFacts(price.valid_from, price.valid_to, price.unit_price, price.vat_rate)
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


def _accounts() -> dict[int, AccountFacts]:
    return {
        account.pk: AccountFacts(
            account.pk, account.customer_id, account.code, tuple(account.missing_data())
        )
        for account in BillingAccount.objects.select_related("customer")
    }
