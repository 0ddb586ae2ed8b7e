"""Reads about orders: search with filters that the database can answer on a million rows, and
an order with its invoices and its history, in the JSON the API answers."""

import calendar
import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.orders.models import Order, OrderChange, OrderStatus, PreviouslyInvoiced

# What the order's billing state filter understands; "open" = none of the others (unbilled,
# held back, or a cancelled order that is not billable).
STATES = ("invoiced", "in_draft", "previously_invoiced", "cancelled", "open")


def _on(status: str) -> Exists:
    return Exists(
        InvoiceItem.objects.filter(
            order_id=OuterRef("pk"),
            is_credit=False,
            credited=False,
            invoice__status=status,
        )
    )


def filtered(
    rows: QuerySet[Order],
    *,
    order_id: str = "",
    orgnr: str = "",
    month: str = "",
    state: str = "",
    status: str = "",
) -> QuerySet[Order]:
    if order_id:
        rows = rows.filter(order_id__startswith=order_id.strip())
    if orgnr:
        rows = rows.filter(orgnr=orgnr.replace("-", "").replace(" ", ""))
    if month:
        first = dt.date.fromisoformat(f"{month}-01")
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        rows = rows.filter(order_date__gte=first, order_date__lte=last)
    if status:
        rows = rows.filter(status=status)
    earlier = Exists(PreviouslyInvoiced.objects.filter(order_id=OuterRef("order_id")))
    if state == "invoiced":
        rows = rows.filter(_on(Invoice.Status.ISSUED))
    elif state == "in_draft":
        rows = rows.filter(_on(Invoice.Status.DRAFT))
    elif state == "previously_invoiced":
        rows = rows.filter(earlier)
    elif state == "cancelled":
        rows = rows.filter(status=OrderStatus.CANCELLED)
    elif state == "open":
        rows = rows.exclude(
            Q(_on(Invoice.Status.ISSUED))
            | Q(_on(Invoice.Status.DRAFT))
            | Q(earlier)
            | Q(status=OrderStatus.CANCELLED)
        )
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
