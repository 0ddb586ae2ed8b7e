"""Beställningar: search by order id, customer, order month and state; an order's detail."""

import datetime as dt
import re
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse

from kortfaktura.access import scope
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.core import month_end
from kortfaktura.billing.models import InvoiceItem
from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
from kortfaktura.imports.models import ImportBatch
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced
from kortfaktura.orders.selectors import OWN_STATES, STATES, Facts, states_of, with_state
from kortfaktura.web.views.common import paginate, require

MONTH = re.compile(r"(\d{4})-(\d{2})")
CUSTOMER_MATCHES = 200


def invoice_url(number: int | None) -> str:
    """The invoice page (built by the billing pages; the literal path if not yet routed)."""
    if number is None:
        return ""
    try:
        return reverse("web:invoice", args=[number])
    except NoReverseMatch:
        return f"/fakturor/{number}/"


def _filters(request: HttpRequest, own: bool) -> tuple[dict[str, str], dict[str, str]]:
    values = {
        "id": request.GET.get("id", "").strip()[:64],
        "kund": "" if own else " ".join(request.GET.get("kund", "").split())[:200],
        "manad": request.GET.get("manad", "").strip()[:7],
        "tillstand": request.GET.get("tillstand", "").strip(),
    }
    errors = {}
    if values["manad"]:
        match = MONTH.fullmatch(values["manad"])
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            errors["manad"] = (
                f"'{values['manad']}' är ingen månad – skriv år och månad som ÅÅÅÅ-MM, "
                "t.ex. 2020-03."
            )
    if values["tillstand"] and values["tillstand"] not in (OWN_STATES if own else STATES):
        errors["tillstand"] = "Välj ett av tillstånden i listan."
    return values, errors


def _customer_orgnrs(text: str) -> list[str]:
    digits = text.replace("-", "").replace(" ", "")
    if digits.isdigit() and len(digits) == 10:
        return [digits]
    return list(
        Customer.objects.filter(Q(name__icontains=text) | Q(orgnr__startswith=digits or "x"))
        .order_by("orgnr")
        .values_list("orgnr", flat=True)[:CUSTOMER_MATCHES]
    )


def _search(
    rows: QuerySet[Order], values: dict[str, str], facts: Facts
) -> tuple[QuerySet[Order], bool]:
    """The filtered orders, and whether counting them is cheap (an indexed, narrow filter)."""
    cheap = False
    if values["id"]:
        rows = rows.filter(order_id=values["id"])
        cheap = True
    if values["kund"]:
        rows = rows.filter(orgnr__in=_customer_orgnrs(values["kund"]))
    if values["manad"]:
        first = dt.date.fromisoformat(f"{values['manad']}-01")
        rows = rows.filter(order_date__range=(first, month_end(first)))
        cheap = True
    if values["tillstand"]:
        rows = with_state(rows, values["tillstand"], facts)
    return rows, cheap


@require("access.view_billing", "access.view_own", section="orders")
def index(request: HttpRequest) -> HttpResponse:
    own = not scope.is_staff_reader(request.user)
    values, errors = _filters(request, own)
    rows = scope.orders(request.user)
    page = None
    if not errors:
        facts = Facts()
        found, cheap = _search(rows, values, facts)
        found = found.select_related("product").order_by("-order_date", "-id")
        page = paginate(request, found, count=cheap)
        states = states_of(page.rows, facts)
        names = (
            {}
            if own
            else dict(
                Customer.objects.filter(orgnr__in={o.orgnr for o in page.rows}).values_list(
                    "orgnr", "name"
                )
            )
        )
        # The invoice of an invoiced order is a link, for a Kund only to its own documents.
        numbers = {state.invoice_number for state in states.values() if state.invoice_number}
        visible = set(
            scope.invoices(request.user)
            .filter(number__in=sorted(numbers))
            .values_list("number", flat=True)
        )
        for order in page.rows:
            order.state = states.get(order.pk)
            order.customer_name = names.get(order.orgnr, "")
            number = order.state.invoice_number if order.state else None
            order.invoice_url = invoice_url(number) if number in visible else ""
    return render(
        request,
        "web/orders/index.html",
        {
            "page_title": "Beställningar",
            "page": page,
            "values": values,
            "errors": errors,
            "states": (OWN_STATES if own else STATES).items(),
            "own": own,
        },
    )


def _documents(request: HttpRequest, order: Order) -> list[dict[str, Any]]:
    """The invoices and credit notes the order is on, that this user may see."""
    visible = scope.invoices(request.user)
    # Invoice items carry no index by order (only the partial one of uncredited items), so the
    # documents are found through the invoices whose period covers the order date, and those a
    # decided change of the order names (its date may have changed since).
    numbers = {
        number
        for pair in order.changes.values_list("invoice_number", "credit_note_number")
        for number in pair
        if number
    }
    candidates = visible.filter(
        Q(period_start__lte=order.order_date, period_end__gte=order.order_date)
        | Q(number__in=sorted(numbers))
    )
    items = (
        InvoiceItem.objects.filter(order=order, invoice__in=candidates)
        .select_related("invoice", "invoice__credits", "line")
        .order_by("invoice__issued_at", "invoice_id")
    )
    documents = []
    for item in items:
        invoice = item.invoice
        documents.append(
            {
                "invoice": invoice,
                "url": invoice_url(invoice.number) if invoice.number else "",
                "credits_url": invoice_url(invoice.credits.number) if invoice.credits else "",
                "item": item,
            }
        )
    return documents


@require("access.view_billing", "access.view_own", section="orders")
def detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = get_object_or_404(
        scope.orders(request.user).select_related("customer"), order_id=order_id
    )
    staff = scope.is_staff_reader(request.user)
    state = states_of([order]).get(order.pk)
    context: dict[str, Any] = {
        "page_title": f"Beställning {order.order_id}",
        "order": order,
        "state": state,
        "staff": staff,
        "product": (
            Product.objects.filter(pk=order.product_id).first() if order.product_id else None
        ),
        "documents": _documents(request, order),
    }
    if staff:
        batch_ids = {order.first_batch_id, order.last_batch_id}
        changes = list(order.changes.select_related("batch").order_by("id"))
        batch_ids |= {change.batch_id for change in changes}
        context.update(
            changes=changes,
            batches=ImportBatch.objects.filter(pk__in=[pk for pk in batch_ids if pk]).order_by(
                "started_at", "id"
            ),
            earlier=PreviouslyInvoiced.objects.filter(order_id=order.order_id).first(),
            audit=AuditRecord.objects.filter(object=f"beställning {order.order_id}").order_by(
                "at", "id"
            )[:200],
            may_see_audit=request.user.has_perm("access.view_review"),
            pending=[c for c in changes if c.status == OrderChange.Status.PENDING],
        )
    return render(request, "web/orders/detail.html", context)


urlpatterns = [
    path("bestallningar/", index, name="orders"),
    path("bestallningar/<path:order_id>/", detail, name="order"),
]
