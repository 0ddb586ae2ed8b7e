"""Körningar: the list of billing runs, a new run with preview, a run's page, issue and discard.

Issuing is irreversible and may take a while for a large run: it asks for confirmation and then
runs as a background job (one at a time per run, the database refuses a second).
"""

import contextlib
import datetime as dt
import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kortfaktura.billing import selectors, services
from kortfaktura.billing.core import HELD_BACK_LABELS, HeldBackReason, NotBillable
from kortfaktura.billing.models import (
    BillingRun,
    Grouping,
    Invoice,
    InvoiceLine,
    InvoiceNumberSeries,
)
from kortfaktura.billing.numbering import INTERNAL_SERIES, SERIES, first_number
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.cycle import notify
from kortfaktura.delivery.selectors import run_deliveries
from kortfaktura.documents.data import draft_documents_for
from kortfaktura.documents.drafts import draft_file_name, render_draft_pdf
from kortfaktura.documents.pdf import RenderError
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.web.views.common import PageOf, paginate, require

SHOWN_PREVIEW_DOCUMENTS = 100
SHOWN_HELD_BACK_PER_REASON = 10
ISSUE_JOB = "issue_run"

NOT_BILLABLE_LABELS = {
    NotBillable.CANCELLED: "makulerade",
    NotBillable.PREVIOUSLY_INVOICED: "fakturerade av tidigare system",
    NotBillable.ALREADY_INVOICED: "redan fakturerade",
    NotBillable.CUSTOMER_NOT_SELECTED: "andra kunder än de valda",
}

# What a person does so that the next run bills the held-back orders, and where (a page).
RELEASES: dict[str, tuple[str, str]] = {
    HeldBackReason.UNKNOWN_CUSTOMER: (
        "Läs in kunden i kunduppgifterna; nästa körning tar med beställningarna.",
        "web:imports",
    ),
    HeldBackReason.UNKNOWN_UNIT: (
        "Lägg till enhetskoden hos en fakturamottagare, eller ge kunden en standardmottagare.",
        "web:customers",
    ),
    HeldBackReason.UNKNOWN_PRODUCT: ("Läs in ett pris för artikeln.", "web:prices"),
    HeldBackReason.NO_PRICE: (
        "Komplettera prislistan så att ett pris gäller beställningsdatumet.",
        "web:prices",
    ),
    HeldBackReason.ACCOUNT_INCOMPLETE: (
        "Komplettera fakturamottagarens uppgifter (adress, beställarreferens, Peppol-id).",
        "web:customers",
    ),
    HeldBackReason.CHANGED_AFTER_INVOICING: (
        "Godkänn eller avvisa ändringen av den fakturerade beställningen.",
        "web:changes",
    ),
    HeldBackReason.IN_OTHER_DRAFT: ("Utfärda eller kassera den andra körningen.", "web:runs"),
}

PAGE_NAMES = {
    "web:imports": "Import",
    "web:customers": "Kunder",
    "web:prices": "Priser",
    "web:changes": "Ändringar",
    "web:runs": "Körningar",
}

# The services' messages name the command line's options; the page names its fields.
OPTION_WORDS = {
    "--from": "”Från”",
    "--to": "”Till och med”",
    "--title": "”Rubrik”",
    "--customer": "”Kunder”",
    "--issue-date": "”Fakturadatum”",
    "--legacy": "”Separat körning för äldre period”",
    "--reason": "”Orsak”",
}
OPTION = re.compile("|".join(re.escape(option) for option in sorted(OPTION_WORDS, key=len)[::-1]))


def page_message(error: Exception) -> str:
    """A service's Swedish message as a sentence for the page (options → field names)."""
    text = OPTION.sub(lambda match: OPTION_WORDS[match.group(0)], str(error))
    return text[:1].upper() + text[1:]


DATE_ERRORS = {
    "required": "Ange ett datum.",
    "invalid": "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2026-10-01.",
}


def date_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=["%Y-%m-%d"],
        error_messages=DATE_ERRORS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class RunForm(forms.Form):
    period_from = date_field("Från (första beställningsdag)", help_text="ÅÅÅÅ-MM-DD")
    period_to = date_field(
        "Till och med (sista beställningsdag)",
        help_text="ÅÅÅÅ-MM-DD, högst sista dagen i förra månaden",
    )
    title = forms.CharField(
        label="Rubrik",
        required=False,
        max_length=300,
        help_text="Står på varje faktura. Tomt: perioden, t.ex. ”eTjänstekort beställda "
        "2026-10-01 – 2026-10-31”.",
    )
    legacy = forms.BooleanField(label="Separat körning för äldre period", required=False)
    per = forms.ChoiceField(
        label="Fakturor",
        choices=Grouping.choices,
        initial=Grouping.MONTH.value,
        error_messages={"invalid_choice": "Välj en faktura per månad eller per körning."},
    )
    issue_date = date_field(
        "Fakturadatum",
        required=False,
        help_text="Valfritt. Tomt: dagens datum när körningen utfärdas.",
    )
    customers = forms.CharField(
        label="Kunder",
        required=False,
        max_length=5000,
        help_text="Valfritt: bara dessa kunders beställningar. Organisationsnummer åtskilda med "
        "mellanslag eller komma, t.ex. 212000-1454 212000-1355.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and start > end:
            self.add_error("period_to", "Till-datumet ligger före från-datumet.")
        return data

    def orgnrs(self) -> list[str]:
        return [part for part in re.split(r"[\s,;]+", self.cleaned_data["customers"]) if part]


def _held_back_view(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for group in groups:
        reason = group["reason"]
        try:
            label = HELD_BACK_LABELS[HeldBackReason(reason)]
        except ValueError:
            label = reason
        text, page = RELEASES.get(reason, ("", ""))
        shown.append(
            {
                **group,
                "label": label,
                "release": text,
                "release_url": reverse(page) if page else None,
                "release_page": PAGE_NAMES.get(page, ""),
                "more": group["count"] - len(group["examples"]),
            }
        )
    return shown


def _not_billable_view(counts: dict[str, int]) -> list[tuple[str, int]]:
    shown = []
    for reason, number in sorted(counts.items()):
        if not number:
            continue
        try:
            label = NOT_BILLABLE_LABELS[NotBillable(reason)]
        except ValueError:
            label = reason
        shown.append((label, number))
    return shown


@require("access.view_billing", section="runs")
def index(request: HttpRequest) -> HttpResponse:
    rows = selectors.runs_with_figures(BillingRun.objects.order_by("-id"))
    status = request.GET.get("status", "")
    if status in BillingRun.Status.values:
        rows = rows.filter(status=status)
    page = paginate(request, rows)
    return render(
        request,
        "web/runs/index.html",
        {
            "page_title": "Körningar",
            "page": page,
            "status": status,
            "statuses": BillingRun.Status.choices,
        },
    )


@require("access.draft_runs", section="runs")
def new(request: HttpRequest) -> HttpResponse:
    """The form; "Förhandsgranska" shows the proposal (nothing stored), "Skapa utkast" stores it."""
    context: dict[str, Any] = {"page_title": "Ny körning"}
    if request.method != "POST":
        last = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
        initial = {"period_from": last.replace(day=1), "period_to": last}
        # A period suggested by another page (an import's next step): ?period_from=&period_to=
        for name in initial:
            with contextlib.suppress(ValueError):
                initial[name] = dt.date.fromisoformat(request.GET.get(name, ""))
        form = RunForm(initial=initial)
        return render(request, "web/runs/new.html", {**context, "form": form})
    form = RunForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "web/runs/new.html", context, status=400)
    preview = request.POST.get("action") != "create"
    data = form.cleaned_data
    try:
        result = services.create_run(
            data["period_from"],
            data["period_to"],
            title=data["title"],
            legacy=data["legacy"],
            grouping=data["per"],
            issue_date=data["issue_date"],
            customers=form.orgnrs(),
            created_by=request.user.get_username(),
            preview=preview,
        )
    except services.BillingError as error:
        context["error"] = page_message(error)
        return render(request, "web/runs/new.html", context, status=400)
    if not preview and result.run.pk is not None:
        messages.success(
            request,
            f"Utkastet till körning {result.run.pk} är skapat. Nästa steg: en kollega med rollen "
            "Ekonomi granskar och utfärdar det – se Nästa steg nedan.",
        )
        return redirect("web:run", run_id=result.run.pk)
    proposal = result.proposal
    context.update(
        preview=True,
        stored=not preview,
        proposed_run=result.run,
        figures=selectors.proposal_figures(proposal),
        documents=selectors.proposal_rows(proposal, result.run, limit=SHOWN_PREVIEW_DOCUMENTS),
        held_back=_held_back_view(
            selectors.proposal_held_back_groups(proposal, examples=SHOWN_HELD_BACK_PER_REASON)
        ),
        not_billable=_not_billable_view({str(k): v for k, v in proposal.not_billable.items()}),
        shown_limit=SHOWN_PREVIEW_DOCUMENTS,
    )
    return render(request, "web/runs/new.html", context)


def _run_or_404(run_id: int) -> BillingRun:
    if run_id > 2**62:  # beyond what the database's id column holds: no such run
        raise Http404
    return get_object_or_404(BillingRun, pk=run_id)


def _issue_job(run: BillingRun) -> Job | None:
    return Job.objects.filter(kind=ISSUE_JOB, key=str(run.pk)).order_by("-created_at").first()


@require("access.view_billing", section="runs")
def detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    # A draft's ids follow the proposal (account code, then month); a page by the index, then
    # its customers and accounts in a query each.
    invoices = (
        run.invoices.prefetch_related(
            Prefetch("customer", Customer.objects.only("name", "orgnr")),
            Prefetch("account", BillingAccount.objects.only("code", "name")),
        )
        .defer("seller", "buyer")
        .order_by("number", "id")
    )
    page = paginate(request, invoices)
    if run.status == BillingRun.Status.DRAFT:
        # R25: the issuer sees each draft document's lines here, and opens its specification
        # and its PDF (UTKAST, no number) from the row; one query for the page's lines.
        lines: dict[int, list[InvoiceLine]] = {}
        for line in InvoiceLine.objects.filter(
            invoice_id__in=[invoice.pk for invoice in page.rows]
        ).order_by("invoice", "position"):
            lines.setdefault(line.invoice_id, []).append(line)
        for invoice in page.rows:
            invoice.draft_lines = lines.get(invoice.pk, [])
    figures = selectors.run_figures(run)
    job = _issue_job(run)
    return render(
        request,
        "web/runs/detail.html",
        {
            "page_title": f"Körning {run.pk}",
            "run": run,
            "page": page,
            "dual_control_refusal": _dual_control_refusal(request, run),
            "dual_control": settings.DUAL_CONTROL,
            "invoice_figures": figures["invoice"],
            "internal_figures": figures["internal_charge"],
            "held_back": _held_back_view(
                selectors.held_back_groups(run, examples=SHOWN_HELD_BACK_PER_REASON)
            ),
            "not_billable": _not_billable_view(run.not_billable or {}),
            "customers": run.customers.order_by("name"),
            "job": job if job and (not job.finished or run.status == "draft") else None,
            "grouping": dict(Grouping.choices).get(run.grouping, run.grouping),
            "next_step": _next_step(request, run),
            "deliveries": (
                run_deliveries(run.pk) if run.status == BillingRun.Status.ISSUED else None
            ),
        },
    )


def _next_step(request: HttpRequest, run: BillingRun) -> dict[str, Any] | None:
    """Who issues a draft (R25: not who made it), and whether they can be told by e-mail."""
    if run.status != BillingRun.Status.DRAFT:
        return None
    people = selectors.issuers(run)
    return {
        "issuers": people,
        "without_address": [person for person in people if not person.email],
        "mail_ready": notify.mail_ready(),
        "notification": notify.draft_notification(run),
        "url": request.build_absolute_uri(reverse("web:run", kwargs={"run_id": run.pk})),
    }


@require("access.draft_runs", section="runs")
@require_POST
def notify_issuers(request: HttpRequest, run_id: int) -> HttpResponse:
    """Tells the people who may issue the draft, by e-mail, that it waits for them (audited)."""
    found = _draft_or_back(request, run_id)
    if isinstance(found, HttpResponse):
        return found
    run = found
    if not notify.mail_ready():
        messages.error(
            request,
            "E-post är inte inställd (KORTFAKTURA_SMTP_URL och KORTFAKTURA_MAIL_FROM), så "
            "ingen avisering kan skickas – säg till dem som står under Nästa steg själv.",
        )
        return redirect("web:run", run_id=run.pk)
    addresses = [person.email for person in selectors.issuers(run) if person.email]
    notice = notify.tell_issuers(run, addresses, request.user.get_username())
    if notice is None:
        messages.info(request, f"De som kan utfärda körning {run.pk} är redan aviserade.")
    elif notice.status == notice.Status.SENT:
        messages.success(
            request, f"Aviseringen om körning {run.pk} är skickad till {', '.join(addresses)}."
        )
    else:
        messages.error(
            request, f"Aviseringen kunde inte skickas: {notice.error}. Säg till dem själv."
        )
    return redirect("web:run", run_id=run.pk)


@require("access.view_billing", section="runs")
def deliveries_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The issued run's delivery progress, polled by its page while documents wait."""
    run = _run_or_404(run_id)
    if run.status != BillingRun.Status.ISSUED:
        raise Http404
    return render(
        request,
        "web/runs/_deliveries.html",
        {"run": run, "deliveries": run_deliveries(run.pk)},
    )


def _dual_control_refusal(request: HttpRequest, run: BillingRun) -> str | None:
    """Why the signed-in user may not issue this draft (R25), for the page; None if they may."""
    if run.status != BillingRun.Status.DRAFT:
        return None
    return services.dual_control_refusal(run, request.user.get_username())


def _draft_document(run_id: int, invoice_id: int) -> tuple[BillingRun, Invoice]:
    run = _run_or_404(run_id)
    if run.status != BillingRun.Status.DRAFT or invoice_id > 2**62:
        raise Http404
    invoice = get_object_or_404(
        Invoice.objects.select_related("account__customer", "customer"),
        pk=invoice_id,
        run=run,
        status=Invoice.Status.DRAFT,
    )
    return run, invoice


SPECIFICATION_PAGE = 100


@require("access.view_billing", section="runs")
def draft_document(request: HttpRequest, run_id: int, invoice_id: int) -> HttpResponse:
    """One draft document before it is issued (R25): buyer, lines, amounts and its whole
    specification (100 orders a page), with the PDF marked UTKAST."""
    run, invoice = _draft_document(run_id, invoice_id)
    document = draft_documents_for([invoice])[0]
    try:
        offset = min(max(0, int(request.GET.get("offset", "0"))), 10_000_000)
    except ValueError:
        offset = 0
    rows = document.specification
    page = PageOf(
        rows=rows[offset : offset + SPECIFICATION_PAGE],
        offset=offset,
        size=SPECIFICATION_PAGE,
        total=len(rows),
    )
    page.has_next = offset + SPECIFICATION_PAGE < len(rows)
    return render(
        request,
        "web/runs/draft_document.html",
        {
            "page_title": f"Utkast: {invoice.account.code} {invoice.period_start:%Y-%m}",
            "run": run,
            "invoice": invoice,
            "document": document,
            "page": page,
            "file_name": draft_file_name(invoice),
        },
    )


@require("access.view_billing", section="runs")
def draft_pdf(request: HttpRequest, run_id: int, invoice_id: int) -> HttpResponse:
    """The draft document as PDF, marked UTKAST and without a number."""
    _, invoice = _draft_document(run_id, invoice_id)
    try:
        content = render_draft_pdf(invoice)
    except RenderError as error:
        return render(
            request,
            "web/runs/draft_document.html",
            {"page_title": "Utkastet kunde inte visas som PDF", "error": page_message(error)},
            status=500,
        )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{draft_file_name(invoice)}"'
    return response


def _next_number(series: str) -> int:
    row = InvoiceNumberSeries.objects.filter(name=series).first()
    return row.next_number if row else first_number(series)


class IssueForm(forms.Form):
    issue_date = date_field(
        "Fakturadatum",
        required=False,
        help_text="ÅÅÅÅ-MM-DD; aldrig i framtiden och aldrig före det senast utfärdade "
        "dokumentets datum.",
    )


def _draft_or_back(request: HttpRequest, run_id: int) -> BillingRun | HttpResponse:
    run = _run_or_404(run_id)
    if run.status != BillingRun.Status.DRAFT:
        messages.error(
            request,
            f"Körning {run.pk} är {run.get_status_display()} – bara ett utkast kan utfärdas "
            "eller kasseras.",
        )
        return redirect("web:run", run_id=run.pk)
    return run


def _busy_message(run_pk: int, running: Job) -> str:
    return (
        f"Körning {run_pk} utfärdas redan (startad av {running.created_by} "
        f"{timezone.localtime(running.created_at):%H:%M}) – vänta tills det arbetet är klart; "
        "en körning kan bara utfärdas en gång."
    )


@require("access.issue_runs", section="runs")
def issue(request: HttpRequest, run_id: int) -> HttpResponse:
    """GET: what will be issued, and that it cannot be undone. POST: issue in the background."""
    found = _draft_or_back(request, run_id)
    if isinstance(found, HttpResponse):
        return found
    run = found
    figures = selectors.run_figures(run)
    context: dict[str, Any] = {
        "page_title": f"Utfärda körning {run.pk}",
        "run": run,
        "invoice_figures": figures["invoice"],
        "internal_figures": figures["internal_charge"],
        "first_invoice_number": _next_number(SERIES),
        "first_internal_number": _next_number(INTERNAL_SERIES),
        "default_issue_date": run.issue_date or timezone.localdate(),
        "held_back_count": run.held_back.count(),
    }
    refusal = _dual_control_refusal(request, run)
    if refusal:
        # Said before anything starts (the service refuses as well, R25).
        context["error"] = page_message(Exception(refusal))
        context["dual_control_refusal"] = refusal
        return render(request, "web/runs/issue.html", context, status=403)
    if request.method != "POST":
        context["form"] = IssueForm(initial={"issue_date": context["default_issue_date"]})
        running = jobs.running(ISSUE_JOB, str(run.pk))
        if running:
            context["error"] = _busy_message(run.pk, running)
        return render(request, "web/runs/issue.html", context)
    form = IssueForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "web/runs/issue.html", context, status=400)
    day = form.cleaned_data["issue_date"]
    run_pk = run.pk
    try:
        job = jobs.start(
            ISSUE_JOB,
            str(run_pk),
            f"Utfärdar körning {run_pk}",
            "web.issue_run",
            {"run_id": run_pk, "issue_date": day.isoformat() if day else None},
            actor=request.user.get_username(),
        )
    except jobs.JobBusy as busy:
        context["error"] = _busy_message(run_pk, busy.running)
        return render(request, "web/runs/issue.html", context, status=409)
    if job.status == Job.Status.FAILED:
        context["error"] = page_message(Exception(job.error))
        return render(request, "web/runs/issue.html", context, status=400)
    return redirect("web:job", pk=job.pk)


def issue_work(
    progress: jobs.Progress, *, run_id: int, issue_date: str | None = None
) -> dict[str, Any]:
    """The job ``web.issue_run``, as the person who asked (dual control, R25). Run again after
    a worker died, the run is issued already and the service says so: it is issued once (R4)."""
    progress(0, 1)
    issued = BillingRun.objects.filter(pk=run_id, status=BillingRun.Status.ISSUED).first()
    if issued is None:  # not by an earlier try of this job that died after its commit
        day = dt.date.fromisoformat(issue_date) if issue_date else None
        issued = services.issue_run(run_id, day)
    progress(1, 1)
    return {
        "url": reverse("web:run", kwargs={"run_id": run_id}),
        "link_text": f"Visa den utfärdade körningen {issued.pk}",
    }


@require("access.discard_runs", section="runs")
def discard(request: HttpRequest, run_id: int) -> HttpResponse:
    found = _draft_or_back(request, run_id)
    if isinstance(found, HttpResponse):
        return found
    run = found
    context: dict[str, Any] = {
        "page_title": f"Kassera körning {run.pk}",
        "run": run,
        "figures": selectors.run_figures(run),
    }
    if request.method == "POST":
        if jobs.running(ISSUE_JOB, str(run.pk)):
            context["error"] = f"Körning {run.pk} håller på att utfärdas och kan inte kasseras."
            return render(request, "web/runs/discard.html", context, status=409)
        try:
            services.discard_run(run.pk)
        except services.BillingError as error:
            context["error"] = page_message(error)
            return render(request, "web/runs/discard.html", context, status=400)
        messages.success(
            request,
            f"Körning {run.pk} är kasserad; dess beställningar tas med i nästa körning.",
        )
        return redirect("web:run", run_id=run.pk)
    return render(request, "web/runs/discard.html", context)


@require("access.draft_runs", section="runs")
def regenerate(request: HttpRequest, run_id: int) -> HttpResponse:
    """Proposes a draft again from today's data (after corrections); POST only."""
    if request.method != "POST":
        return redirect("web:run", run_id=run_id)
    found = _draft_or_back(request, run_id)
    if isinstance(found, HttpResponse):
        return found
    if jobs.running(ISSUE_JOB, str(found.pk)):
        messages.error(request, f"Körning {found.pk} håller på att utfärdas.")
        return redirect("web:run", run_id=found.pk)
    try:
        with transaction.atomic():
            services.regenerate_run(found.pk)
    except services.BillingError as error:
        messages.error(request, page_message(error))
    else:
        messages.success(request, f"Utkastet till körning {found.pk} är gjort om.")
    return redirect("web:run", run_id=found.pk)


urlpatterns = [
    path("korningar/", index, name="runs"),
    path("korningar/ny/", new, name="run_new"),
    path("korningar/<int:run_id>/", detail, name="run"),
    path("korningar/<int:run_id>/utfarda/", issue, name="run_issue"),
    path("korningar/<int:run_id>/kassera/", discard, name="run_discard"),
    path("korningar/<int:run_id>/avisera/", notify_issuers, name="run_notify"),
    path("korningar/<int:run_id>/leveranser/", deliveries_progress, name="run_deliveries"),
    path("korningar/<int:run_id>/gor-om/", regenerate, name="run_regenerate"),
    path("korningar/<int:run_id>/utkast/<int:invoice_id>/", draft_document, name="run_draft"),
    path("korningar/<int:run_id>/utkast/<int:invoice_id>/pdf/", draft_pdf, name="run_draft_pdf"),
]
