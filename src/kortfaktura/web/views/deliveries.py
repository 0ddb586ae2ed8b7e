"""Leveranser: every document's delivery with its status and error; resend; deliver now (R20).

Failed, rejected and uncertain deliveries come first, with their error and response code. The
actions call ``delivery.services``: a resend is recorded at once (and refused, with the
service's Swedish message, when its channel is not set up); delivering runs as a background job.
"""

from typing import Any

from django.contrib import messages
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from kortfaktura.access import scope
from kortfaktura.billing.models import BillingRun, Invoice
from kortfaktura.delivery import services
from kortfaktura.delivery.channels import SENDERS, route
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.jobs import services as jobs
from kortfaktura.web.views import exports
from kortfaktura.web.views.common import Sorting, paginate, require, sortable

# The buyer's answer (Peppol Invoice Response, MLR) in ``response_status``, in Swedish.
RESPONSE_WORDS = {
    "delivered": "mottagen",
    "rejected": "avvisad av köparen",
    "in_process": "under behandling hos köparen",
    "under_query": "köparen har frågor",
    "conditionally_accepted": "villkorat godkänd",
    "accepted": "godkänd av köparen",
    "paid": "betald",
}
ATTENTION = (Delivery.Status.FAILED, Delivery.Status.REJECTED, Delivery.Status.UNCERTAIN)
ATTENTION_SHOWN = 50
RUNS_OFFERED = 36  # the latest issued runs in Leverera nu's list; older ones by number
SORT_KEYS = {
    "dokument": ("invoice__number",),
    "kanal": ("channel",),
    "status": ("status",),
    "forsok": ("attempts",),
    "uppdaterad": ("updated_at",),
}


def _rows(
    request: HttpRequest, status: str, number: int | None
) -> tuple[QuerySet[Delivery], Sorting]:
    # Unsorted, newest first by primary key: an index scan that stops after the page, however
    # many deliveries there are (the failed ones are listed on their own above the list).
    rows = scope.deliveries(request.user).select_related("invoice")
    if status:
        rows = rows.filter(status=status)
    if number is not None:
        rows = rows.filter(invoice__number=number)
    run = _run_filter(request)
    if run is not None:
        rows = rows.filter(invoice__run_id=run)
    return sortable(request, rows, SORT_KEYS)


EXPORT_COLUMNS = [
    exports.Column("Dokument", lambda d: d.invoice.number),
    exports.Column("Typ", lambda d: d.invoice.get_kind_display()),
    exports.Column("Kanal", lambda d: d.get_channel_display()),
    exports.Column("Status", lambda d: d.get_status_display()),
    exports.Column(
        "Köparens svar", lambda d: RESPONSE_WORDS.get(d.response_status, d.response_status)
    ),
    exports.Column("Försök", lambda d: d.attempts),
    exports.Column("Svarskod", lambda d: d.response_code),
    exports.Column("Fel", lambda d: d.error),
    exports.Column("Mottagare", lambda d: " ".join(d.recipient.split())),
    exports.Column("Omsändning", lambda d: d.resend_of_id is not None),
    exports.Column("Skapad", lambda d: d.created_at),
    exports.Column("Uppdaterad", lambda d: d.updated_at),
]


def _run_filter(request: HttpRequest) -> int | None:
    """?korning=N: one run's deliveries (linked from the run's delivery progress)."""
    text = request.GET.get("korning", "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def _attention(request: HttpRequest) -> list[Delivery]:
    """Failed, rejected and uncertain deliveries, which a person must look at: few, found by
    the status index."""
    return list(
        scope.deliveries(request.user)
        .select_related("invoice")
        .filter(status__in=ATTENTION)
        .order_by("-updated_at", "-id")[:ATTENTION_SHOWN]
    )


def _filters(request: HttpRequest) -> tuple[str, str, int | None, list[str]]:
    errors = []
    status = request.GET.get("status", "")
    if status and status not in Delivery.Status.values:
        errors.append(f"Okänd status {status!r} – välj en status i listan.")
        status = ""
    number_text = request.GET.get("nummer", "").strip()
    number = None
    if number_text:
        if number_text.isdigit() and len(number_text) < 19:
            number = int(number_text)
        else:
            errors.append(
                f"Fakturanumret {number_text!r} är inget nummer – ange bara siffror, t.ex. 100001."
            )
    return status, number_text, number, errors


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    status, number_text, number, errors = _filters(request)
    counts = dict(
        scope.deliveries(request.user)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    summary = [
        {"status": value, "label": label, "count": counts.get(value, 0)}
        for value, label in Delivery.Status.choices
        if counts.get(value)
    ]
    rows, sorting = _rows(request, status, number)
    page = paginate(request, rows)
    filtered = status or number is not None or _run_filter(request) is not None
    attention = [] if filtered else _attention(request)
    for row in [*page.rows, *attention]:
        answer = "" if row.response_status == row.status else row.response_status
        row.response_text = RESPONSE_WORDS.get(answer, answer)
        row.needs_attention = row.status in ATTENTION
    may_deliver = request.user.has_perm("access.deliver_documents")
    # Only those who may deliver see the count, so only they pay for it.
    undelivered = (
        scope.invoices(request.user)
        .filter(status=Invoice.Status.ISSUED)
        .exclude(Exists(Delivery.objects.filter(invoice=OuterRef("pk"))))
        .count()
        if may_deliver
        else 0
    )
    return {
        "page_title": "Leveranser",
        "page": page,
        "undelivered": undelivered,
        "status": status,
        "number": number_text,
        "statuses": Delivery.Status.choices,
        "channels": Channel.choices,
        "summary": summary,
        "sorting": sorting,
        "queued": counts.get(Delivery.Status.QUEUED, 0),
        "attention": attention,
        "attention_count": sum(counts.get(s, 0) for s in ATTENTION),
        "may_deliver": may_deliver,
        "filter_errors": errors,
        "run_filter": _run_filter(request),
        "running": jobs.running("deliver", "deliver"),
        # Leverera nu delivers one run or chosen numbers (never the whole history unasked).
        "issued_runs": (
            list(
                BillingRun.objects.filter(status=BillingRun.Status.ISSUED).order_by("-id")[
                    :RUNS_OFFERED
                ]
            )
            if may_deliver
            else []
        ),
        **extra,
    }


@require("access.view_billing")
def index(request: HttpRequest) -> HttpResponse:
    if exports.wanted(request):
        status, _, number, errors = _filters(request)
        if not errors:
            rows, _sorting = _rows(request, status, number)
            return exports.export(request, rows, EXPORT_COLUMNS, "leveranser")
    return render(request, "web/deliveries/index.html", _context(request))


def _refuse(request: HttpRequest, message: str, **kept: Any) -> HttpResponse:
    context = _context(request, action_error=message, **kept)
    return render(request, "web/deliveries/index.html", context, status=400)


@require("access.deliver_documents", section="deliveries")
@require_POST
def resend(request: HttpRequest) -> HttpResponse:
    number_text = request.POST.get("number", "").strip()
    channel = request.POST.get("channel", "").strip() or None
    kept = {"resend_number": number_text, "resend_channel": channel or ""}
    if not number_text.isdigit() or len(number_text) > 18:
        return _refuse(request, "Ange fakturanumret som ska skickas om, t.ex. 100001.", **kept)
    if channel is not None and channel not in Channel.values:
        return _refuse(
            request, "Välj kanal: Peppol, e-post, utskrift eller dokumentets egen.", **kept
        )
    number = int(number_text)
    try:
        row = services.resend(number, channel)
    except (services.DeliveryError, services.MissingSetting) as error:
        return _refuse(request, f"Dokument {number} skickades inte om: {error}", **kept)
    try:
        job = jobs.start(
            "deliver",
            "deliver",
            f"Omsändning av dokument {number}",
            "web.deliver",
            {"numbers": [number]},
            actor=request.user.get_username(),
        )
    except jobs.JobBusy:
        messages.info(
            request,
            f"Dokument {number} är köat för att skickas om via {row.get_channel_display()}; "
            "en leverans pågår redan – det skickas med nästa leverans (Leverera nu).",
        )
        return redirect("web:deliveries")
    messages.success(
        request,
        f"Dokument {number} skickas om via {row.get_channel_display()} till {row.recipient}.",
    )
    return redirect("web:job", pk=job.pk)


def deliver_work(
    progress: jobs.Progress, *, numbers: list[int] | None = None, run_id: int | None = None
) -> dict[str, Any]:
    """The job ``web.deliver``. Run again after a worker died, what was handed over is not
    handed over again (R20): the delivery rows' states say so."""
    progress(0, 1)
    try:
        # The channels that are set up are delivered; the others' documents stay queued
        # and the result says which setting they wait for.
        report = services.deliver(run_id=run_id, numbers=numbers or (), skip_unconfigured=True)
    except services.MissingSetting as error:
        raise services.DeliveryError(str(error)) from None
    progress(1, 1)
    waiting = report.unconfigured_text()
    return {
        "url": reverse("web:deliveries"),
        # The job page shows only this link: it says how the delivery went.
        "link_text": (
            f"{len(report.delivered)} skickade, {len(report.failed)} misslyckade"
            + (f". {waiting}" if waiting else "")
            + " – visa leveranserna"
        ),
        "delivered": len(report.delivered),
        "failed": len(report.failed),
        "skipped": report.skipped,
        "unconfigured": {
            channel: {"reason": reason, "waiting": count}
            for channel, (reason, count) in report.unconfigured.items()
        },
    }


NUMBERS_LIMIT = 500  # documents named at once in the form


def _needed_channels(request: HttpRequest, invoices: QuerySet[Invoice]) -> tuple[set[str], int]:
    """The channels that delivering the chosen documents would use, and how many of them wait:
    the queued and failed rows' channels, and the route of each issued document without a
    delivery (read until every channel has been seen). A dry run of ``deliver`` would build
    every row, seconds for a large queue."""
    waiting = scope.deliveries(request.user).filter(
        invoice__in=invoices, status__in=(Delivery.Status.QUEUED, Delivery.Status.FAILED)
    )
    channels = set(waiting.values_list("channel", flat=True).distinct())
    undelivered = invoices.exclude(
        Exists(Delivery.objects.filter(invoice=OuterRef("pk"), resend_of__isnull=True))
    )
    count = waiting.count() + undelivered.count()
    for invoice in undelivered.only("kind", "buyer").iterator(chunk_size=2000):
        channels.add(route(invoice).channel)
        if len(channels) == len(Channel.values):
            break
    return channels, count


def _chosen(request: HttpRequest) -> tuple[int | None, list[int], QuerySet[Invoice] | str]:
    """What to deliver (issue 19, item 4): one run's documents or the numbers given – never
    the whole history unasked. The documents, or a Swedish reason why the choice is wrong."""
    data = request.POST if request.method == "POST" else request.GET
    run_text = data.get("korning", "").strip()
    numbers_text = data.get("nummer", "").strip()
    issued = scope.invoices(request.user).filter(status=Invoice.Status.ISSUED)
    if not run_text and not numbers_text:
        return (
            None,
            [],
            (
                "Välj vad som ska levereras: en körning eller fakturanummer. Leverera nu lämnar "
                "aldrig hela historiken på en gång."
            ),
        )
    if run_text:
        if not run_text.isdigit() or len(run_text) > 18:
            return None, [], f"Körningen {run_text!r} är inget nummer – välj en körning i listan."
        run_id = int(run_text)
        documents = issued.filter(run_id=run_id)
        if not documents.exists():
            return (
                run_id,
                [],
                (
                    f"Körning {run_id} har inga utfärdade dokument – utfärda den först, eller "
                    "välj en "
                    "annan körning."
                ),
            )
        return run_id, [], documents
    words = numbers_text.replace(",", " ").split()
    wrong = [word for word in words if not word.isdigit() or len(word) > 18]
    if wrong:
        return (
            None,
            [],
            (
                f"{wrong[0]!r} är inget fakturanummer – ange nummer åtskilda med mellanslag, t.ex. "
                "100001 100002."
            ),
        )
    numbers = list(dict.fromkeys(int(word) for word in words))
    if len(numbers) > NUMBERS_LIMIT:
        return (
            None,
            [],
            (f"Högst {NUMBERS_LIMIT} nummer åt gången – välj hellre körningen de hör till."),
        )
    found = set(issued.filter(number__in=numbers).values_list("number", flat=True))
    missing = [str(number) for number in numbers if number not in found]
    if missing:
        return (
            None,
            numbers,
            (
                "Inga utfärdade dokument med nummer " + ", ".join(missing[:10]) + " – kontrollera "
                "numren på sidan Fakturor."
            ),
        )
    return None, numbers, issued.filter(number__in=numbers)


def _what(run_id: int | None, numbers: list[int]) -> str:
    if run_id is not None:
        return f"körning {run_id}"
    if len(numbers) == 1:
        return f"dokument {numbers[0]}"
    return f"{len(numbers)} valda dokument"


@require("access.deliver_documents", section="deliveries")
def deliver_now(request: HttpRequest) -> HttpResponse:
    """GET/POST: what the choice would deliver, with the count, to confirm; POST with
    ``bekraftat``: deliver exactly that in the background."""
    run_id, numbers, chosen = _chosen(request)
    if isinstance(chosen, str):
        return _refuse(request, chosen, deliver_run=run_id or "", deliver_numbers=" ".join(
            str(number) for number in numbers))  # fmt: skip
    what = _what(run_id, numbers)
    # Checked here as well as in the job, so a missing setting is said in this page at once:
    # nothing can go when no needed channel is set up; otherwise those that are set up go.
    channels, count = _needed_channels(request, chosen)
    if not count:
        messages.info(
            request, f"Det finns inget att leverera i {what}: dokumenten är redan lämnade."
        )
        return redirect("web:deliveries")
    missing = {}
    for channel in sorted(channels):
        try:
            SENDERS[channel]().check()
        except services.MissingSetting as error:
            missing[channel] = f"{services.channel_not_set_up(channel)}: {str(error).rstrip('.')}"
    if missing and len(missing) == len(channels):
        return _refuse(request, "Ingenting levererades. " + " ".join(missing.values()))
    if request.method != "POST" or request.POST.get("bekraftat") != "1":
        return render(
            request,
            "web/deliveries/confirm.html",
            {
                "page_title": "Leverera",
                "what": what,
                "count": count,
                "run_id": run_id,
                "numbers": " ".join(str(number) for number in numbers),
                "missing": list(missing.values()),
            },
        )
    for text in missing.values():
        messages.warning(
            request,
            f"{text}. Dokumenten som ska skickas den vägen väntar kvar i kön; de övriga "
            "levereras nu.",
        )
    try:
        job = jobs.start(
            "deliver",
            "deliver",
            f"Leverans av {count} dokument ({what})",
            "web.deliver",
            {"numbers": list(numbers) or None, "run_id": run_id},
            actor=request.user.get_username(),
        )
    except jobs.JobBusy as busy:
        messages.info(request, "En leverans pågår redan – följ den här.")
        return redirect("web:job", pk=busy.running.pk)
    return redirect("web:job", pk=job.pk)


urlpatterns = [
    path("leveranser/", index, name="deliveries"),
    path("leveranser/skicka-om/", resend, name="delivery_resend"),
    path("leveranser/leverera/", deliver_now, name="deliver_now"),
]
