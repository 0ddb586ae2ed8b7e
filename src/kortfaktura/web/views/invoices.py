"""Fakturor: issued documents with filters, a document's page, its downloads and credit.

Every query starts from ``scope.invoices(request.user)``: a Kund sees its own organisation's
issued documents, and another organisation's number answers 404 on every page and download.
"""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from kortfaktura.access import scope
from kortfaktura.billing import services
from kortfaktura.billing.models import (
    CHARGE_KINDS,
    INTERNAL_KINDS,
    Invoice,
    InvoiceItem,
    InvoiceLine,
)
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.documents.services import ExportError, render_one
from kortfaktura.payments import selectors as payment_selectors
from kortfaktura.payments.models import Payment
from kortfaktura.web.views import exports, payments
from kortfaktura.web.views.common import contains_any_case, paginate, require, sortable
from kortfaktura.web.views.runs import date_field, page_message

SPECIFICATION_PAGE = 100
CREDIT_CHECKBOXES = 1000  # more uncredited orders than this: the order ids are typed instead
FORMATS = ("pdf", "ubl", "xlsx", "csv")
SORT_KEYS = {
    "nummer": ("number",),
    "typ": ("kind",),
    "kund": ("customer__name",),
    "mottagare": ("account__code",),
    "bestallda": ("period_start",),
    "fakturadatum": ("issue_date",),
    "forfaller": ("due_date",),
    "belopp": ("payable",),
}
SPACES = re.compile(r"[\s\u00a0\u202f]")
AMOUNT = re.compile(r"-?\d{1,12}(?:[.,]\d{1,2})?")


def amount_of(text: str) -> Decimal | None:
    """An amount as people type it: ``1 234,50``, ``1234.50``, ``1234,5 kr``; None otherwise."""
    compact = SPACES.sub("", text).lower().removesuffix("kr").removesuffix("sek")
    if not AMOUNT.fullmatch(compact):
        return None
    return Decimal(compact.replace(",", "."))


class MonthField(forms.CharField):
    def clean(self, value: Any) -> dt.date | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            raise forms.ValidationError("Ange månaden som ÅÅÅÅ-MM, till exempel 2020-03.")
        return dt.date(int(match.group(1)), int(match.group(2)), 1)


class FilterForm(forms.Form):
    q = forms.CharField(
        label="Sök: nummer, OCR-nummer, kund eller belopp", required=False, max_length=200
    )
    number = forms.CharField(label="Nummer", required=False, max_length=20)
    customer = forms.CharField(
        label="Kund (namn eller organisationsnummer)", required=False, max_length=200
    )
    run = forms.IntegerField(
        label="Körning",
        required=False,
        min_value=1,
        max_value=2**62,
        error_messages={
            "invalid": "Ange körningens nummer som ett heltal, till exempel 3.",
            "min_value": "Ange körningens nummer som ett heltal, till exempel 3.",
            "max_value": "Det finns ingen körning med så högt nummer.",
        },
    )
    kind = forms.ChoiceField(
        label="Typ",
        required=False,
        choices=[("", "Alla"), *Invoice.Kind.choices],
        error_messages={"invalid_choice": "Välj en dokumenttyp i listan."},
    )
    issued_from = date_field("Fakturadatum från", required=False)
    issued_to = date_field("Fakturadatum till och med", required=False)
    month = MonthField(label="Beställningsmånad", required=False, max_length=7)

    def clean_number(self) -> int | None:
        text = self.cleaned_data["number"].strip()
        if not text:
            return None
        if not text.isdigit() or len(text) > 18:
            raise forms.ValidationError("Ange fakturanumret med siffror, till exempel 100001.")
        return int(text)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("issued_from"), data.get("issued_to")
        if start and end and start > end:
            self.add_error("issued_to", "Till-datumet ligger före från-datumet.")
        return data


def _search(rows: QuerySet[Invoice], text: str) -> QuerySet[Invoice]:
    """Whatever the text can be: a number, an OCR number, the payable amount (either sign: a
    credit note's is negative), a customer's or recipient's name, a recipient code or the
    beginning of an organisation number. A Kund's rows are its own already (scope)."""
    compact = SPACES.sub("", text)
    condition = Q(ocr=compact) | Q(account__code__iexact=text)
    digits = compact.replace("-", "")
    if compact.isdigit() and len(compact) <= 18:
        condition |= Q(number=int(compact))
    if digits.isdigit() and len(digits) >= 6:
        condition |= Q(customer__orgnr__startswith=digits[:10])
    amount = amount_of(text)
    if amount is not None:
        condition |= Q(payable=amount) | Q(payable=-amount)
    if not any(character.isdigit() for character in text):
        condition |= contains_any_case("customer__name", text) | contains_any_case(
            "account__name", text
        )
    return rows.filter(condition)


def _filtered(rows: QuerySet[Invoice], data: dict[str, Any], staff: bool) -> QuerySet[Invoice]:
    if (data.get("q") or "").strip():
        rows = _search(rows, " ".join(data["q"].split()))
    if data.get("number") is not None:
        rows = rows.filter(number=data["number"])
    customer = (data.get("customer") or "").strip() if staff else ""
    if customer:
        digits = re.sub(r"[\s-]", "", customer)
        if digits.isdigit():
            rows = rows.filter(customer__orgnr__startswith=digits)
        else:
            rows = rows.filter(contains_any_case("customer__name", customer))
    if staff and data.get("run"):
        rows = rows.filter(run_id=data["run"])
    if data.get("kind"):
        rows = rows.filter(kind=data["kind"])
    if data.get("issued_from"):
        rows = rows.filter(issue_date__gte=data["issued_from"])
    if data.get("issued_to"):
        rows = rows.filter(issue_date__lte=data["issued_to"])
    if data.get("month"):
        rows = rows.filter(
            Exists(InvoiceLine.objects.filter(invoice=OuterRef("pk"), order_month=data["month"]))
        )
    return rows


@require("access.view_billing", "access.view_own", section="invoices")
def index(request: HttpRequest) -> HttpResponse:
    staff = scope.is_staff_reader(request.user)
    form = FilterForm(request.GET or None)
    # A Kund is offered only the kinds its organisation receives (never "intern debitering" for
    # a municipality).
    kinds = scope.document_kinds(request.user)
    kind_field = form.fields["kind"]
    assert isinstance(kind_field, forms.ChoiceField)
    kind_field.choices = [
        ("", "Alla"),
        *((value, label) for value, label in Invoice.Kind.choices if value in kinds),
    ]
    rows = (
        scope.invoices(request.user)
        .filter(status=Invoice.Status.ISSUED)
        # One page by the number index, then its customers, accounts and credited invoices in
        # a query each: a join would let the planner sort every document first.
        .prefetch_related(
            Prefetch("customer", Customer.objects.only("name", "orgnr")),
            Prefetch("account", BillingAccount.objects.only("code", "name")),
            Prefetch("credits", Invoice.objects.only("number", "kind")),
        )
        .defer("seller", "buyer")
    )
    if form.is_bound:
        rows = _filtered(rows, form.cleaned_data, staff) if form.is_valid() else rows.none()
    keys = {key: fields for key, fields in SORT_KEYS.items() if staff or key != "kund"}
    rows, sorting = sortable(request, rows, keys, "-nummer")
    if exports.wanted(request):
        return exports.export(request, rows, EXPORT_COLUMNS, "fakturor")
    page = paginate(request, rows)
    return render(
        request,
        "web/invoices/index.html",
        {
            "page_title": "Fakturor",
            "form": form,
            "page": page,
            "staff": staff,
            "sorting": sorting,
        },
    )


EXPORT_COLUMNS = [
    exports.Column("Nummer", lambda i: i.number),
    exports.Column("Typ", lambda i: i.get_kind_display().capitalize()),
    exports.Column("Krediterar", lambda i: i.credits.number if i.credits else None),
    exports.Column("Kund", lambda i: i.customer.name),
    exports.Column("Organisationsnummer", lambda i: format_orgnr(i.customer.orgnr)),
    exports.Column("Mottagare", lambda i: i.account.code),
    exports.Column("Mottagarens namn", lambda i: i.account.name),
    exports.Column("Beställda från", lambda i: i.period_start),
    exports.Column("Beställda till och med", lambda i: i.period_end),
    exports.Column("Fakturadatum", lambda i: i.issue_date),
    exports.Column("Förfallodatum", lambda i: i.due_date),
    exports.Column("OCR-nummer", lambda i: i.ocr),
    exports.Column("Netto", lambda i: i.net, money=True),
    exports.Column("Moms", lambda i: i.vat, money=True),
    exports.Column("Att betala", lambda i: i.payable, money=True),
]


def _document(request: HttpRequest, number: int) -> Invoice:
    if number > 2**62:
        raise Http404
    return get_object_or_404(
        scope.invoices(request.user)
        .filter(status=Invoice.Status.ISSUED)
        .select_related("customer", "account", "credits", "run"),
        number=number,
    )


@require("access.view_billing", "access.view_own", section="invoices")
def detail(request: HttpRequest, number: int) -> HttpResponse:
    invoice = _document(request, number)
    lines = list(invoice.lines.order_by("position"))
    orders = sum(abs(line.quantity) for line in lines)
    items = (
        InvoiceItem.objects.filter(invoice=invoice)
        .select_related("credited_by")
        .only(
            "order_ref", "order_date", "product_code", "unit_code", "holder_name",
            "holder_hsa_id", "unit_price", "credited", "credited_by__number",
        )
        .order_by("order_date", "order_ref", "id")
    )  # fmt: skip
    page = paginate(request, items, size=SPECIFICATION_PAGE, count=False)
    page.total = orders
    # The specification's orders are links, for a Kund only to orders that are still its own.
    visible_orders = set(
        scope.orders(request.user)
        .filter(order_id__in=[item.order_ref for item in page.rows])
        .values_list("order_id", flat=True)
    )
    credit_notes = list(
        scope.invoices(request.user)
        .filter(credits=invoice, status=Invoice.Status.ISSUED)
        .order_by("number")
    )
    deliveries = list(scope.deliveries(request.user).filter(invoice=invoice).order_by("id"))
    # Paid and open (R22) for an issued invoice; its payments: dates and amounts for a Kund,
    # with payer and file for staff.
    paying = invoice.kind == Invoice.Kind.INVOICE and invoice.status == Invoice.Status.ISSUED
    payment_facts = payment_selectors.payment_fields([invoice])[invoice.pk] if paying else None
    payments = (
        list(
            Payment.objects.select_related("file")
            .filter(invoice=invoice, status__in=payment_selectors.SETTLING)
            .order_by("paid_on", "id")
        )
        if paying
        else []
    )
    may_credit = (
        request.user.has_perm("access.credit_invoices")
        and invoice.kind in CHARGE_KINDS
        and InvoiceItem.objects.filter(invoice=invoice, credited=False).exists()
    )
    return render(
        request,
        "web/invoices/detail.html",
        {
            "page_title": f"{invoice.get_kind_display().capitalize()} {invoice.number}",
            "invoice": invoice,
            "buyer": invoice.buyer or {},
            "lines": lines,
            "orders": orders,
            "page": page,
            "visible_orders": visible_orders,
            "credit_notes": credit_notes,
            "deliveries": deliveries,
            "payment_facts": payment_facts,
            "payment_status_word": (
                payment_selectors.STATUS_WORDS.get(payment_facts["payment_status"], "")
                if payment_facts
                else ""
            ),
            "payments": payments,
            "reminders": list(invoice.reminders.order_by("step")) if paying else [],
            "dispute": (
                invoice.disputes.filter(closed_at__isnull=True).first()
                if paying and scope.is_staff_reader(request.user)
                else None
            ),
            "may_dispute": paying and request.user.has_perm("access.manage_payments"),
            "staff": scope.is_staff_reader(request.user),
            "internal": invoice.kind in INTERNAL_KINDS,
            "is_credit": invoice.kind not in CHARGE_KINDS,
            "may_credit": may_credit,
        },
    )


@require("access.view_billing", "access.view_own", section="invoices")
def document(request: HttpRequest, number: int, file_format: str) -> HttpResponse:
    invoice = _document(request, number)
    if file_format not in FORMATS:
        raise Http404
    try:
        rendered = render_one(invoice, file_format)
    except ExportError as error:
        messages.error(request, page_message(error))
        return redirect("web:invoice", number=invoice.number)
    response = HttpResponse(rendered.content, content_type=rendered.media_type)
    response["Content-Disposition"] = f'attachment; filename="{rendered.file_name}"'
    response["Cache-Control"] = "private, no-store"
    return response


class CreditForm(forms.Form):
    scope = forms.ChoiceField(
        label="Vad krediteras",
        choices=[("chosen", "Valda beställningar"), ("all", "Hela fakturan")],
        initial="chosen",
        error_messages={
            "required": "Välj vad som krediteras.",
            "invalid_choice": "Välj vad som krediteras.",
        },
    )
    orders = forms.MultipleChoiceField(label="Beställningar", required=False)
    typed = forms.CharField(label="Eller ange beställnings-id", required=False, max_length=200_000)
    reason = forms.CharField(
        label="Orsak",
        max_length=1000,
        error_messages={
            "required": "Ange en orsak, till exempel ”Fel enhet”; den står på kreditfakturan.",
            "max_length": "Orsaken får vara högst %(limit_value)d tecken.",
        },
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, order_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_ids = order_ids
        field = self.fields["orders"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(order_id, order_id) for order_id in order_ids]
        self.fields["orders"].error_messages["invalid_choice"] = (
            "Beställningen %(value)s finns inte okrediterad på fakturan."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "chosen":
            typed = [part for part in re.split(r"[\s,;]+", data.get("typed") or "") if part]
            chosen = list(dict.fromkeys([*(data.get("orders") or []), *typed]))
            if not chosen and "orders" not in self.errors:
                self.add_error(
                    "orders",
                    "Välj minst en beställning att kreditera, eller välj hela fakturan.",
                )
            data["chosen"] = chosen
        else:
            data["chosen"] = []
        return data


def _uncredited(invoice: Invoice) -> QuerySet[InvoiceItem]:
    return InvoiceItem.objects.filter(invoice=invoice, credited=False).order_by(
        "order_date", "order_ref", "id"
    )


@require("access.credit_invoices", section="invoices")
def credit(request: HttpRequest, number: int) -> HttpResponse:
    """Choose orders and a reason, confirm, then issue the credit note."""
    invoice = _document(request, number)
    if invoice.kind not in CHARGE_KINDS:
        messages.error(
            request,
            f"{invoice.get_kind_display().capitalize()} {number} kan inte krediteras – "
            "kreditera fakturan den gäller.",
        )
        return redirect("web:invoice", number=number)
    uncredited = _uncredited(invoice)
    count = uncredited.count()
    items = list(uncredited.only("order_ref", "order_date", "holder_name", "unit_code",
                                 "product_code", "unit_price")[:CREDIT_CHECKBOXES])  # fmt: skip
    order_ids = [item.order_ref for item in items] if count <= CREDIT_CHECKBOXES else []
    context: dict[str, Any] = {
        "page_title": f"Kreditera {invoice.get_kind_display()} {number}",
        "invoice": invoice,
        "items": items if count <= CREDIT_CHECKBOXES else [],
        "uncredited": count,
    }
    if request.method != "POST":
        context["form"] = CreditForm(order_ids=order_ids)
        return render(request, "web/invoices/credit.html", context)
    form = CreditForm(request.POST, order_ids=order_ids)
    context["form"] = form
    if not form.is_valid():
        return render(request, "web/invoices/credit.html", context, status=400)
    chosen: list[str] = form.cleaned_data["chosen"]
    if request.POST.get("step") != "confirm":
        wanted = set(chosen)
        picked = (uncredited.filter(order_ref__in=chosen) if wanted else uncredited).aggregate(
            net=Sum("unit_price")
        )
        context.update(
            chosen=chosen,
            chosen_count=len(chosen) if chosen else count,
            chosen_net=-(picked["net"] or Decimal("0")),
        )
        return render(request, "web/invoices/credit_confirm.html", context)
    try:
        note = services.credit_invoice(
            invoice.number or 0,
            order_ids=chosen,
            reason=form.cleaned_data["reason"],
            created_by=request.user.get_username(),
        )
    except services.BillingError as error:
        context["error"] = page_message(error)
        return render(request, "web/invoices/credit.html", context, status=400)
    messages.success(
        request,
        f"{note.get_kind_display().capitalize()} {note.number} är utfärdad och krediterar "
        f"{invoice.get_kind_display()} {number}. De krediterade beställningarna faktureras igen "
        "i nästa körning som omfattar deras beställningsmånad.",
    )
    return redirect("web:invoice", number=note.number)


urlpatterns = [
    path("fakturor/", index, name="invoices"),
    path("fakturor/<int:number>/", detail, name="invoice"),
    path("fakturor/<int:number>/kreditera/", credit, name="invoice_credit"),
    # Marking a dispute belongs to the receivables (Ekonomi), next to the payments.
    path("fakturor/<int:number>/bestrid/", payments.dispute_open, name="invoice_dispute"),
    path(
        "fakturor/<int:number>/bestrid/hav/", payments.dispute_close, name="invoice_dispute_close"
    ),
    path("fakturor/<int:number>/<str:file_format>/", document, name="invoice_document"),
]
