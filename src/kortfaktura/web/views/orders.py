"""Beställningar: search by order id, customer, order month and state; an order's detail."""

import datetime as dt
import re
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse

from kortfaktura.access import scope
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.core import month_end
from kortfaktura.billing.models import InvoiceItem
from kortfaktura.catalog.models import Product
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.customers.models import Customer
from kortfaktura.imports.models import ImportBatch
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced
from kortfaktura.orders.selectors import OWN_STATES, STATES, Facts, states_of, with_state
from kortfaktura.web.views import exports
from kortfaktura.web.views.common import contains_any_case, paginate, require, sortable

MONTH = re.compile(r"(\d{4})-(\d{2})")
CUSTOMER_MATCHES = 200
# The columns a heading sorts by. Kund sorts by organisation number (its index), so a
# customer's orders stay together; names are looked up for the page only.
SORT_KEYS = {
    "id": ("order_id",),
    "datum": ("order_date",),
    "kund": ("orgnr",),
    "enhet": ("unit_code",),
    "artikel": ("product_code",),
    "innehavare": ("holder_name",),
    "status": ("status",),
}
# A card holder search tests every order (no index serves a part of a name); up to this many
# matches are found first, in one pass, and then sorted and paged by their primary keys.
HOLDER_MATCHES = 2000
# A state filter is a condition per order (invoice items, earlier invoices, held-back rules):
# its count stops here rather than test every order of a large register.
STATE_COUNT_LIMIT = 10_000


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
        "innehavare": " ".join(request.GET.get("innehavare", "").split())[:200],
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
        Customer.objects.filter(
            contains_any_case("name", text) | Q(orgnr__startswith=digits or "x")
        )
        .order_by("orgnr")
        .values_list("orgnr", flat=True)[:CUSTOMER_MATCHES]
    )


def _id_prefix(text: str) -> Q:
    """Order ids that begin with ``text``. The unique index serves it: PostgreSQL's pattern
    index the LIKE, SQLite (whose LIKE ignores case and so no index) the range of ids from
    ``text`` up to ``text`` followed by the highest character."""
    condition = Q()
    # Ids are mostly written in capitals; "b0025" finds "B0025…" too.
    for variant in dict.fromkeys((text, text.upper())):
        one = Q(order_id__startswith=variant)
        if connection.vendor == "sqlite":
            one &= Q(order_id__gte=variant, order_id__lt=variant + "\U0010ffff")
        condition |= one
    return condition


def _search(
    rows: QuerySet[Order], values: dict[str, str], facts: Facts
) -> tuple[QuerySet[Order], bool]:
    """The filtered orders, and whether counting them is cheap (an indexed, narrow filter)."""
    cheap = False
    if values["id"]:
        rows = rows.filter(_id_prefix(values["id"]))
        cheap = True
    if values["innehavare"]:
        text = values["innehavare"]
        matching = rows.filter(
            contains_any_case("holder_name", text) | Q(holder_hsa_id__iexact=text)
        )
        # Otherwise the sort walks the date index through every order to find a few matches.
        pks = list(matching.order_by().values_list("pk", flat=True)[: HOLDER_MATCHES + 1])
        rows = rows.filter(pk__in=pks) if len(pks) <= HOLDER_MATCHES else matching
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
    keys = {key: fields for key, fields in SORT_KEYS.items() if not (own and key == "kund")}
    sorting = None
    if not errors:
        facts = Facts()
        found, cheap = _search(rows, values, facts)
        found, sorting = sortable(request, found.select_related("product"), keys, "-datum")

        def enrich(orders: list[Order]) -> None:
            states = states_of(orders, facts)
            names = (
                {}
                if own
                else dict(
                    Customer.objects.filter(orgnr__in={o.orgnr for o in orders}).values_list(
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
            for order in orders:
                state = states.get(order.pk)
                number = state.invoice_number if state else None
                order.state = state  # type: ignore[attr-defined]
                order.customer_name = names.get(order.orgnr, "")  # type: ignore[attr-defined]
                order.invoice_url = invoice_url(number) if number in visible else ""  # type: ignore[attr-defined]

        if exports.wanted(request):
            return exports.export(
                request, found, _export_columns(own), "bestallningar", enrich=enrich
            )
        limit = None if cheap or not values["tillstand"] else STATE_COUNT_LIMIT
        page = paginate(request, found, count_limit=limit)
        enrich(page.rows)
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
            "sorting": sorting,
        },
    )


def _state_text(order: Order, own: bool) -> str:
    state = getattr(order, "state", None)
    if state is None:
        return ""
    return state.own_label if own else state.label


def _export_columns(own: bool) -> list[exports.Column]:
    columns = [
        exports.Column("Beställnings-id", lambda o: o.order_id),
        exports.Column("Beställningsdag", lambda o: o.order_date),
    ]
    if not own:
        columns += [
            exports.Column("Kund", lambda o: o.customer_name),
            exports.Column("Organisationsnummer", lambda o: format_orgnr(o.orgnr)),
        ]
    columns += [
        exports.Column("Enhet", lambda o: o.unit_code),
        exports.Column("Artikel", lambda o: o.product_code),
        exports.Column("Kortinnehavare", lambda o: o.holder_name),
        exports.Column("HSA-id", lambda o: o.holder_hsa_id),
        exports.Column("Status", lambda o: o.get_status_display()),
        exports.Column("Tillstånd", lambda o: _state_text(o, own)),
    ]
    if not own:
        columns.append(exports.Column("Förklaring", lambda o: o.state.detail if o.state else ""))
    return columns


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
