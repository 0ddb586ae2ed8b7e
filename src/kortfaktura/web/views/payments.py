"""Betalningar and Kundreskontra (R21, R22): payments by file and status, the unmatched ones to
assign to a document or mark for refund (Ekonomi, audited, with a reason); open items per
customer with their ageing, and the same as an Excel file.

The actions call ``payments.services``; reading a payment file runs as a background job, like
the other imports.
"""

import datetime as dt
import io
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from kortfaktura import swedish
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing.models import Invoice
from kortfaktura.jobs import services as jobs
from kortfaktura.payments import selectors, services
from kortfaktura.payments.models import Dispute, Payment, PaymentFile
from kortfaktura.web.views.common import paginate, require
from kortfaktura.web.views.imports import safe_name, upload_dir

JOB_KIND, JOB_KEY = "payments-import", "payments"
UNMATCHED_SHOWN = 100
AGEING_LABELS = {
    "not_due": "ej förfallet",
    "1-30": "1–30 dagar",
    "31-60": "31–60 dagar",
    "61-90": "61–90 dagar",
    "90+": "över 90 dagar",
}


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    status = request.GET.get("status", "")
    errors = []
    if status and status not in Payment.Status.values:
        errors.append(f"Okänd status {status!r} – välj en status i listan.")
        status = ""
    file_text = request.GET.get("fil", "")
    file_id = _int(file_text) if file_text else None
    if file_text and file_id is None:
        errors.append(f"Betalfilen {file_text!r} är inget nummer – välj en fil i listan.")
    rows = Payment.objects.select_related("invoice", "file").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    if file_id is not None:
        rows = rows.filter(file_id=file_id)
    counts = dict(Payment.objects.values_list("status").annotate(n=Count("id")))
    summary = [
        {"status": value, "label": label, "count": counts.get(value, 0)}
        for value, label in Payment.Status.choices
        if counts.get(value)
    ]
    unmatched = list(
        Payment.objects.select_related("file")
        .filter(status=Payment.Status.UNMATCHED)
        .order_by("paid_on", "id")[:UNMATCHED_SHOWN]
    )
    return {
        "page_title": "Betalningar",
        "page": paginate(request, rows),
        "status": status,
        "file_id": file_id,
        "statuses": Payment.Status.choices,
        "summary": summary,
        "unmatched": unmatched,
        "unmatched_count": counts.get(Payment.Status.UNMATCHED, 0),
        "files": list(PaymentFile.objects.order_by("-id")[:20]),
        "may_manage": request.user.has_perm("access.manage_payments"),
        "running": jobs.running(JOB_KIND, JOB_KEY),
        "filter_errors": errors,
        "upload_limit": swedish.count(settings.UPLOAD_LIMIT // (1024 * 1024)),
        **extra,
    }


@require("access.view_billing")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/payments/index.html", _context(request))


def import_work(progress: jobs.Progress, *, target: str) -> dict[str, Any]:
    """The job ``web.payments_import``: reads an uploaded payment file (saved under the data
    directory, which the workers share with the web server), then removes the copy."""
    path = Path(target)
    try:
        progress(0, 1)
        result = services.import_payments(path)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    if result.already_imported:
        text = f"{result.file} var redan inläst (betalfil {result.file_id}); ingenting ändrades"
    else:
        text = (
            f"{swedish.counted(result.payments, 'ny betalning', 'nya betalningar')}, "
            f"{swedish.counted(result.matched, 'matchad', 'matchade')}, "
            f"{swedish.count(result.unmatched)} utan faktura, "
            f"{swedish.counted(result.duplicates, 'redan inläst', 'redan inlästa')} – visa "
            "betalningarna"
        )
    return {
        "url": reverse("web:payments") + f"?fil={result.file_id}",
        "link_text": text,
        **result.as_json(),
    }


@require("access.manage_payments", section="payments")
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    uploaded = request.FILES.get("file")
    error, status = "", 400
    if uploaded is None or not uploaded.size:
        error = "Välj betalfilen från Bankgirot (BgMax) eller banken (camt.054) att läsa in."
    elif uploaded.size > settings.UPLOAD_LIMIT:
        error = (
            f"Filen är för stor: {safe_name(uploaded.name or 'fil')} är "
            f"{swedish.count(uploaded.size // 1_000_000)} MB, högst "
            f"{swedish.count(settings.UPLOAD_LIMIT // 1_000_000)} MB tas emot – hämta en fil "
            "per dag eller vecka från banken och läs in dem var för sig."
        )
        status = 413
    if error or uploaded is None:
        return render(
            request,
            "web/payments/index.html",
            _context(request, upload_error=error),
            status=status,
        )
    folder = upload_dir() / f"betalfil-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / safe_name(uploaded.name or "betalfil")
    with target.open("wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
    try:
        job = jobs.start(
            JOB_KIND, JOB_KEY, f"Betalfil {target.name}", "web.payments_import",
            {"target": str(target)}, actor=request.user.get_username(),
        )  # fmt: skip
    except jobs.JobBusy as busy:
        shutil.rmtree(folder, ignore_errors=True)
        context = _context(request, upload_error=f"{busy} – vänta tills den är klar.")
        return render(request, "web/payments/index.html", context, status=409)
    messages.success(request, f"{target.name} tas emot och läses in.")
    return redirect("web:job", job.pk)


def _decide(request: HttpRequest, payment_id: int, refund: bool) -> HttpResponse:
    payment = get_object_or_404(Payment, pk=payment_id)
    reason = request.POST.get("reason", "")
    number_text = request.POST.get("number", "")
    try:
        with acting_as(request.user.get_username()):
            if refund:
                services.refund(payment.pk, reason)
                done = f"Betalning {payment.pk} är markerad för återbetalning."
            else:
                number = _int(number_text)
                if number is None:
                    raise services.PaymentError(
                        f"Fakturanumret {number_text.strip()!r} är inget nummer – ange "
                        "fakturans nummer, t.ex. 100001."
                    )
                services.assign(payment.pk, number, reason)
                done = f"Betalning {payment.pk} är kopplad till faktura {number}."
    except services.PaymentError as error:
        context = _context(
            request,
            decision_error={"id": payment.pk, "text": str(error)},
            decision_form={"id": payment.pk, "number": number_text, "reason": reason},
        )
        return render(request, "web/payments/index.html", context, status=400)
    messages.success(request, done)
    return redirect(reverse("web:payments") + "#utan-faktura")


@require("access.manage_payments", section="payments")
@require_POST
def assign(request: HttpRequest, payment_id: int) -> HttpResponse:
    return _decide(request, payment_id, refund=False)


@require("access.manage_payments", section="payments")
@require_POST
def refund(request: HttpRequest, payment_id: int) -> HttpResponse:
    return _decide(request, payment_id, refund=True)


def _dispute(request: HttpRequest, number: int, *, closing: bool) -> HttpResponse:
    get_object_or_404(Invoice, number=number, status=Invoice.Status.ISSUED)
    reason = request.POST.get("reason", "")
    try:
        with acting_as(request.user.get_username()):
            if closing:
                services.close_dispute(number, reason)
                done = f"Faktura {number} är inte längre bestridd; påminnelser kan följa igen."
            else:
                services.open_dispute(number, reason)
                done = f"Faktura {number} är markerad som bestridd: ingen påminnelse går ut."
    except services.PaymentError as error:
        messages.error(request, f"{str(error)[:1].upper()}{str(error)[1:]}.")
    else:
        messages.success(request, done)
    return redirect(reverse("web:invoice", args=[number]) + "#bestridande")


@require("access.manage_payments", section="payments")
@require_POST
def dispute_open(request: HttpRequest, number: int) -> HttpResponse:
    return _dispute(request, number, closing=False)


@require("access.manage_payments", section="payments")
@require_POST
def dispute_close(request: HttpRequest, number: int) -> HttpResponse:
    return _dispute(request, number, closing=True)


# --- Kundreskontra ---------------------------------------------------------------------------


def _day(text: str) -> tuple[dt.date | None, str]:
    if not text:
        return None, ""
    try:
        return dt.date.fromisoformat(text.strip()), ""
    except ValueError:
        return None, f"{text!r} är inget datum – skriv ÅÅÅÅ-MM-DD, t.ex. 2026-12-31."


def _receivables(request: HttpRequest) -> tuple[selectors.Receivables, dict[str, Any]]:
    day, error = _day(request.GET.get("datum", ""))
    orgnr = request.GET.get("kund", "").strip()
    overdue = request.GET.get("forfallna") == "1"
    report = selectors.receivables(at=day, orgnr=orgnr or None, overdue_only=overdue)
    return report, {"day": day, "orgnr": orgnr, "overdue": overdue, "error": error}


@require("access.view_billing")
def receivables(request: HttpRequest) -> HttpResponse:
    report, chosen = _receivables(request)
    if request.GET.get("format") == "xlsx" and not chosen["error"]:
        return _xlsx(report)
    largest = max((report.ageing[key] for key in selectors.AGEING), default=0) or 1
    ageing = [
        {
            "label": AGEING_LABELS[key],
            "amount": report.ageing[key],
            "percent": int(report.ageing[key] * 100 / largest) if report.ageing[key] > 0 else 0,
        }
        for key in selectors.AGEING
    ]
    customers = [
        {**row, **{key: Decimal(row[key]) for key in ("open", "overdue", "credit_balance")}}
        for row in report.customers
    ]
    customers.sort(key=lambda row: (-row["overdue"], -row["open"], row["orgnr"]))
    return render(
        request,
        "web/payments/receivables.html",
        {
            "page_title": "Kundreskontra",
            "report": report,
            "ageing": ageing,
            "customers": customers,
            "items": report.items[:500],
            "items_cut": len(report.items) > 500,
            "disputed": {
                str(number)
                for number in Dispute.objects.filter(closed_at__isnull=True).values_list(
                    "invoice__number", flat=True
                )
            },
            "chosen": chosen,
            "status_words": selectors.STATUS_WORDS,
            "query": request.GET.urlencode(),
        },
    )


MONEY_FORMAT = "#,##0.00"
KIND_WORDS = dict(Invoice.Kind.choices)


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _xlsx(report: selectors.Receivables) -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Öppna poster"
    sheet.append(
        ["Fakturanummer", "Typ", "Organisationsnummer", "Kund", "Konto", "Fakturadatum",
         "Förfallodag", "Att betala", "Betalt", "Krediterat", "Öppet", "Status",
         "Dagar förfallen"]
    )  # fmt: skip
    for item in report.items:
        sheet.append(
            [int(item["number"]), KIND_WORDS.get(item["type"], item["type"]), item["orgnr"],
             item["customer_name"],
             item["account_code"], _date(item["issue_date"]), _date(item["due_date"]),
             Decimal(item["payable"]), Decimal(item["paid"]), Decimal(item["credited"]),
             Decimal(item["open"]), selectors.STATUS_WORDS.get(item["status"], item["status"]),
             item["days_overdue"]]
        )  # fmt: skip
    for row in sheet.iter_rows(min_row=2, min_col=6, max_col=11):
        for cell in row:
            cell.number_format = "yyyy-mm-dd" if cell.column <= 7 else MONEY_FORMAT
    ageing = book.create_sheet("Åldersanalys")
    ageing.append(["Dagar efter förfallodagen", "Öppet belopp"])
    for key in selectors.AGEING:
        ageing.append([AGEING_LABELS[key], report.ageing[key]])
    ageing.append(["Totalt öppet", report.total_open])
    ageing.append(["Kunders tillgodohavanden", report.credit_balance])
    for (cell,) in ageing.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.number_format = MONEY_FORMAT
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="kundreskontra-{report.at}.xlsx"'
    return response


urlpatterns = [
    path("betalningar/", index, name="payments"),
    path("betalningar/las-in/", upload, name="payments_upload"),
    path("betalningar/<int:payment_id>/koppla/", assign, name="payment_assign"),
    path("betalningar/<int:payment_id>/aterbetala/", refund, name="payment_refund"),
    path("kundreskontra/", receivables, name="receivables"),
]
