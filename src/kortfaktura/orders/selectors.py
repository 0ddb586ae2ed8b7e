"""Finding orders and telling the state of each (the Beställningar page and its detail).

The state is the review's (DOMAIN.md R18), the first that applies: invoiced, previously invoiced,
not billable, in a draft, held back or unbilled. For the orders on one page it is computed as the
review computes it, with the billing core deciding held back or unbilled. A search by state must
stay cheap on a million orders, so it filters in SQL with the same conditions: lookups served by
an index (the partial unique index on invoice items, the earlier system's order ids) and, for held
back, plain column tests built from the small customer, account and price tables. The test
suite checks that the filter and the per-order state agree for every state and reason.
"""

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import Max, Min, QuerySet

from kortfaktura.billing import core
from kortfaktura.billing.core import (
    HELD_BACK_LABELS,
    AccountFacts,
    BillingRequest,
    CustomerFacts,
    OrderFacts,
    ProductFacts,
)
from kortfaktura.billing.facts import (
    ACTIVE_ITEM,
    account_facts,
    catalogue_facts,
    pending_change_orders,
)
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.catalog.models import Product
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
CHANGES = OrderChange._meta.db_table

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
_PENDING = (
    f"EXISTS (SELECT 1 FROM {CHANGES} c WHERE c.order_id = {ORDERS}.id AND c.status = 'pending')"
)
PENDING_AS_LIST = 1_000


def _price_gaps(product: ProductFacts) -> list[tuple[dt.date, dt.date]]:
    """The order dates on which no price of ``product`` is in force (``price_on`` is None)."""
    gaps = []
    start: dt.date | None = dt.date.min
    for price in sorted(product.prices, key=lambda p: p.valid_from):
        if start is not None and price.valid_from > start:
            gaps.append((start, price.valid_from - dt.timedelta(days=1)))
        if price.valid_to is None or price.valid_to >= dt.date.max:
            start = None
        elif start is not None:
            start = max(start, price.valid_to + dt.timedelta(days=1))
    if start is not None:
        gaps.append((start, dt.date.max))
    return gaps


class Facts:
    """Products with prices, customers with units, and accounts, loaded once per request at most
    (the state filter and the states of a page's orders both need them)."""

    @cached_property
    def catalogue(self) -> tuple[dict[int, ProductFacts], dict[int, CustomerFacts]]:
        return catalogue_facts()

    @cached_property
    def accounts(self) -> dict[int, AccountFacts]:
        return account_facts()


def _held_back_condition(facts: Facts) -> tuple[str, list[Any]]:
    """What stops an open order from being billed, as ``core.propose_invoices`` decides it:
    no customer, no product, no price on the order date, no complete account for its unit, a
    change waiting for a decision. Built from the (small) customer, account and price tables
    as plain column tests, so that it costs next to nothing per order."""
    products, customers = facts.catalogue
    accounts = facts.accounts
    column = f"{ORDERS}."
    known_customers = sorted(customers) or [-1]
    known_products = sorted(products) or [-1]
    parts = [
        f"{column}customer_id IS NULL",
        f"{column}product_id IS NULL",
        f"{column}customer_id NOT IN ({', '.join(map(str, known_customers))})",
        f"{column}product_id NOT IN ({', '.join(map(str, known_products))})",
    ]
    params: list[Any] = []
    for product in products.values():
        for first, last in _price_gaps(product):
            parts.append(f"({column}product_id = %s AND {column}order_date BETWEEN %s AND %s)")
            params += [product.id, first, last]
    no_default = []
    for customer in customers.values():
        default = customer.default_account_id
        bad_default = default is None or bool(accounts[default].problems)
        good = sorted(u for u, a in customer.unit_accounts.items() if not accounts[a].problems)
        bad = sorted(u for u, a in customer.unit_accounts.items() if accounts[a].problems)
        if bad_default and not good:
            no_default.append(customer.id)
        elif bad_default:
            parts.append(
                f"({column}customer_id = %s AND {column}unit_code NOT IN "
                f"({', '.join(['%s'] * len(good))}))"
            )
            params += [customer.id, *good]
        elif bad:
            parts.append(
                f"({column}customer_id = %s AND {column}unit_code IN "
                f"({', '.join(['%s'] * len(bad))}))"
            )
            params += [customer.id, *bad]
    if no_default:
        parts.append(f"{column}customer_id IN ({', '.join(map(str, no_default))})")
    pending = pending_change_orders()
    if len(pending) > PENDING_AS_LIST:
        parts.append(_PENDING)
    elif pending:
        parts.append(f"{column}id IN ({', '.join(map(str, sorted(pending)))})")
    return "(" + " OR ".join(parts) + ")", params


def with_state(rows: QuerySet[Order], state: str, facts: Facts | None = None) -> QuerySet[Order]:
    """Only the orders in ``state`` (a key of ``STATES``, or ``OPEN``)."""
    before: list[str] = []
    for name, condition in (
        ("invoiced", _ISSUED),
        ("previously_invoiced", _EARLIER),
        ("not_billable", _CANCELLED),
        ("in_draft", _DRAFT),
    ):
        if state == name:
            if name == "previously_invoiced":
                # Few and old: found from the earlier system's records (their order id index)
                # rather than by walking every newer order.
                rows = rows.filter(order_id__in=PreviouslyInvoiced.objects.values("order_id"))
            return rows.extra(where=[*before, condition])
        before.append(f"NOT {condition}")
    if state == OPEN:
        return rows.extra(where=before[:3])
    held, params = _held_back_condition(facts or Facts())
    if state == "held_back":
        # The cheap column tests first: the subqueries run only for the few that pass.
        return rows.extra(where=[held, *before], params=params)
    if state == "unbilled":
        return rows.extra(where=[*before, f"NOT {held}"], params=params)
    raise ValueError(f"okänt tillstånd {state}")


@dataclass(frozen=True)
class OrderState:
    state: str
    detail: str = ""
    invoice_number: int | None = None  # the issued invoice an invoiced order is on
    run_id: int | None = None  # the draft run an order in a draft is in

    @property
    def label(self) -> str:
        return STATES[self.state]

    @property
    def own_label(self) -> str:
        """The label a Kund sees."""
        return OWN_STATES.get(self.state, OWN_STATES[OPEN])


def states_of(orders: list[Order], facts: Facts | None = None) -> dict[int, OrderState]:
    """The review's state of each order, computed for these orders only (a page of them)."""
    if not orders:
        return {}
    pks = [order.pk for order in orders]
    found: dict[int, OrderState] = {}
    for order_pk, status, number, run_id in InvoiceItem.objects.filter(
        order_id__in=pks, credited=False, is_credit=False
    ).values_list("order_id", "invoice__status", "invoice__number", "invoice__run_id"):
        if status == Invoice.Status.ISSUED:
            found[order_pk] = OrderState("invoiced", f"faktura {number}", number)
        else:
            found.setdefault(order_pk, OrderState("in_draft", run_id=run_id))
    earlier = dict(
        PreviouslyInvoiced.objects.filter(
            order_id__in=[order.order_id for order in orders]
        ).values_list("order_id", "invoice_number")
    )
    facts = facts or Facts()
    products, customers = facts.catalogue
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
            facts.accounts,
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


def filtered(
    rows: QuerySet[Order],
    *,
    order_id: str = "",
    orgnr: str = "",
    month: str = "",
    state: str = "",
    status: str = "",
) -> QuerySet[Order]:
    """The API's order search: the same states as the web page's (``STATES`` and ``OPEN``)."""
    if order_id:
        rows = rows.filter(order_id__startswith=order_id.strip())
    if orgnr:
        rows = rows.filter(orgnr=orgnr.replace("-", "").replace(" ", ""))
    if month:
        first = dt.date.fromisoformat(f"{month}-01")
        rows = rows.filter(order_date__range=(first, core.month_end(first)))
    if status:
        rows = rows.filter(status=status)
    if state:
        rows = with_state(rows, state)
    return rows


def order_json(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "ordered_at": order.ordered_at,
        "order_date": order.order_date.isoformat(),
        "orgnr": order.orgnr,
        "customer_name": order.customer.name if order.customer_id and order.customer else None,
        "unit_code": order.unit_code,
        "product_code": order.product_code,
        "holder_name": order.holder_name,
        "holder_hsa_id": order.holder_hsa_id,
        "status": order.status,
    }


def order_detail_json(
    order: Order, invoices: QuerySet[Invoice], *, only_own: bool = False
) -> dict[str, Any]:
    """The order, the documents it is on (only those in ``invoices``, the caller's scope), what
    an earlier system invoiced, and every change imports made to it. ``only_own`` (a Kund):
    leave out changes of the customer and changes that name a document outside ``invoices``,
    which may belong to the organisation the order was moved from."""
    data = order_json(order)
    items = (
        InvoiceItem.objects.filter(order=order, is_credit=False, invoice__in=invoices)
        .select_related("invoice", "credited_by")
        .order_by("invoice__number", "invoice_id")
    )
    data["invoices"] = [
        {
            "number": str(item.invoice.number) if item.invoice.number is not None else None,
            "type": item.invoice.kind,
            "status": item.invoice.status,
            "credited": item.credited,
            "credit_note": (
                str(item.credited_by.number)
                if item.credited_by is not None and item.credited_by.number is not None
                else None
            ),
        }
        for item in items
    ]
    data["invoice_numbers"] = [
        entry["number"] for entry in data["invoices"] if entry["status"] == "issued"
    ]
    earlier = PreviouslyInvoiced.objects.filter(order_id=order.order_id).first()
    data["previously_invoiced"] = earlier.invoice_number if earlier else None
    own_numbers = {int(entry["number"]) for entry in data["invoices"] if entry["number"]}
    own_numbers |= {int(entry["credit_note"]) for entry in data["invoices"] if entry["credit_note"]}
    changes = OrderChange.objects.filter(order=order).select_related("batch").order_by("id")
    data["changes"] = [
        {
            "id": change.pk,
            "field": change.field,
            "old": change.old_value,
            "new": change.new_value,
            "status": change.status,
            "recorded_at": change.batch.started_at.isoformat(),
            "file_name": change.batch.file_name,
            "decided_at": change.decided_at.isoformat() if change.decided_at else None,
            "decided_by": change.decided_by or None,
            "reason": change.decision_reason or None,
            "invoice_number": (
                str(change.invoice_number) if change.invoice_number is not None else None
            ),
            "credit_note_number": (
                str(change.credit_note_number) if change.credit_note_number is not None else None
            ),
        }
        for change in changes
        if not only_own or _own_change(change, own_numbers)
    ]
    return data


def _own_change(change: OrderChange, own_numbers: set[int]) -> bool:
    if change.field == "orgnr":
        return False
    named = [n for n in (change.invoice_number, change.credit_note_number) if n is not None]
    return all(number in own_numbers for number in named)


def batch_period(batch_id: int) -> tuple[dt.date, dt.date] | None:
    """The first and last order day among the orders an import added or changed (the run that
    should bill them), None when it added or changed none."""
    found = Order.objects.filter(last_batch_id=batch_id).aggregate(
        first=Min("order_date"), last=Max("order_date")
    )
    if found["first"] is None:
        return None
    return found["first"], found["last"]
