"""Finding orders and telling the state of each (the Beställningar page and its detail).

The state is the review's (DOMAIN.md R18), the first that applies: invoiced, previously invoiced,
not billable, in a draft, held back or unbilled. For the orders on one page it is computed as the
review computes it, with the billing core deciding held back or unbilled. A search by state must
stay cheap on a million orders, so it filters in SQL with the same conditions, each served by an
index (the partial unique index on invoice items, the unit code and default account constraints).
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from kortfaktura.billing import core
from kortfaktura.billing.core import HELD_BACK_LABELS, BillingRequest, OrderFacts
from kortfaktura.billing.facts import ACTIVE_ITEM, account_facts, catalogue_facts
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount, UnitCode
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced

STATES = {
    "invoiced": "fakturerad",
    "previously_invoiced": "tidigare fakturerad",
    "not_billable": "ej fakturerbar (makulerad)",
    "in_draft": "i ett utkast",
    "held_back": "tillbakahållen",
    "unbilled": "fakturerbar, inte fakturerad än",
}

# What a Kund is told: drafts and the reasons for holding an order back are the seller's business.
OPEN = "open"
OWN_STATES = {
    "invoiced": STATES["invoiced"],
    "previously_invoiced": STATES["previously_invoiced"],
    "not_billable": STATES["not_billable"],
    OPEN: "inte fakturerad än",
}

ORDERS = Order._meta.db_table
ITEMS = InvoiceItem._meta.db_table
INVOICES = Invoice._meta.db_table
EARLIER = PreviouslyInvoiced._meta.db_table
PRODUCTS = Product._meta.db_table
PRICES = Price._meta.db_table
CHANGES = OrderChange._meta.db_table
UNITS = UnitCode._meta.db_table
ACCOUNTS = BillingAccount._meta.db_table

_ISSUED = (
    f"EXISTS (SELECT 1 FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
    f"WHERE i.order_id = {ORDERS}.id AND {ACTIVE_ITEM} AND inv.status = 'issued')"
)
_DRAFT = (
    f"EXISTS (SELECT 1 FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
    f"WHERE i.order_id = {ORDERS}.id AND {ACTIVE_ITEM} AND inv.status = 'draft')"
)
_EARLIER = f"EXISTS (SELECT 1 FROM {EARLIER} p WHERE p.order_id = {ORDERS}.order_id)"
_CANCELLED = (
    f"({ORDERS}.status = 'cancelled' AND NOT EXISTS (SELECT 1 FROM {PRODUCTS} pr "
    f"WHERE pr.id = {ORDERS}.product_id AND pr.cancelled_billable))"
)
# The account an order goes to (core.CustomerFacts.account_for): its unit's, else the default.
_ACCOUNT = (
    f"COALESCE((SELECT u.account_id FROM {UNITS} u WHERE u.customer_id = {ORDERS}.customer_id "
    f"AND u.code = {ORDERS}.unit_code), (SELECT a.id FROM {ACCOUNTS} a "
    f"WHERE a.customer_id = {ORDERS}.customer_id AND a.is_default))"
)
_NO_PRICE = (
    f"NOT EXISTS (SELECT 1 FROM {PRICES} pp WHERE pp.product_id = {ORDERS}.product_id "
    f"AND pp.valid_from <= {ORDERS}.order_date "
    f"AND (pp.valid_to IS NULL OR pp.valid_to >= {ORDERS}.order_date))"
)
_PENDING = (
    f"EXISTS (SELECT 1 FROM {CHANGES} c WHERE c.order_id = {ORDERS}.id AND c.status = 'pending')"
)


def _held_back_condition() -> str:
    """What stops an open order from being billed, as ``core.propose_invoices`` decides it."""
    incomplete = [str(int(facts.id)) for facts in account_facts().values() if facts.problems] or [
        "-1"
    ]
    return (
        f"({ORDERS}.customer_id IS NULL OR {ORDERS}.product_id IS NULL OR {_NO_PRICE} "
        f"OR {_PENDING} OR {_ACCOUNT} IS NULL OR {_ACCOUNT} IN ({', '.join(incomplete)}))"
    )


def with_state(rows: QuerySet[Order], state: str) -> QuerySet[Order]:
    """Only the orders in ``state`` (a key of ``STATES``)."""
    before: list[str] = []
    for name, condition in (
        ("invoiced", _ISSUED),
        ("previously_invoiced", _EARLIER),
        ("not_billable", _CANCELLED),
        ("in_draft", _DRAFT),
    ):
        if state == name:
            return rows.extra(where=[*before, condition])
        before.append(f"NOT {condition}")
    if state == OPEN:
        return rows.extra(where=before[:3])
    if state == "held_back":
        return rows.extra(where=[*before, _held_back_condition()])
    if state == "unbilled":
        return rows.extra(where=[*before, f"NOT {_held_back_condition()}"])
    raise ValueError(f"okänt tillstånd {state}")


@dataclass(frozen=True)
class OrderState:
    state: str
    detail: str = ""

    @property
    def label(self) -> str:
        return STATES[self.state]

    @property
    def own_label(self) -> str:
        """The label a Kund sees."""
        return OWN_STATES.get(self.state, OWN_STATES[OPEN])


def states_of(orders: list[Order]) -> dict[int, OrderState]:
    """The review's state of each order, computed for these orders only (a page of them)."""
    if not orders:
        return {}
    pks = [order.pk for order in orders]
    found: dict[int, OrderState] = {}
    for order_pk, status, number in InvoiceItem.objects.filter(
        order_id__in=pks, credited=False, is_credit=False
    ).values_list("order_id", "invoice__status", "invoice__number"):
        if status == Invoice.Status.ISSUED:
            found[order_pk] = OrderState("invoiced", f"faktura {number}")
        else:
            found.setdefault(order_pk, OrderState("in_draft"))
    earlier = dict(
        PreviouslyInvoiced.objects.filter(
            order_id__in=[order.order_id for order in orders]
        ).values_list("order_id", "invoice_number")
    )
    products, customers = catalogue_facts()
    pending = set(
        OrderChange.objects.filter(order_id__in=pks, status=OrderChange.Status.PENDING).values_list(
            "order_id", flat=True
        )
    )
    states: dict[int, OrderState] = {}
    open_orders = []
    for order in orders:
        known = found.get(order.pk)
        if known is not None and known.state == "invoiced":
            states[order.pk] = known
        elif order.order_id in earlier:
            states[order.pk] = OrderState(
                "previously_invoiced", f"faktura {earlier[order.order_id]} i tidigare system"
            )
        elif order.status == "cancelled" and not (
            order.product_id in products and products[order.product_id].cancelled_billable
        ):
            states[order.pk] = OrderState("not_billable", "makulerad före produktion")
        elif known is not None:
            states[order.pk] = known
        else:
            open_orders.append(
                OrderFacts(
                    order.pk, order.order_id, order.order_date, order.customer_id, order.orgnr,
                    order.unit_code, order.product_id, order.product_code, order.status,
                    pending_change=order.pk in pending,
                )
            )  # fmt: skip
    if open_orders:
        proposal = core.propose_invoices(
            open_orders,
            products,
            customers,
            account_facts(),
            BillingRequest(dt.date.min, dt.date.max),
        )
        for entry in proposal.held_back:
            states[entry.order_pk] = OrderState(
                "held_back", f"{HELD_BACK_LABELS[entry.reason]}: {entry.detail}"
            )
        for invoice in proposal.invoices:
            for pk in invoice.order_pks:
                states[pk] = OrderState("unbilled")
    return states
