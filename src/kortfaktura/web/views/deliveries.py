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
from kortfaktura.billing.models import Invoice
from kortfaktura.delivery import services
from kortfaktura.delivery.channels import SENDERS, route
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.jobs import services as jobs
from kortfaktura.web.views.common import paginate, require

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


def _rows(request: HttpRequest, status: str, number: int | None) -> QuerySet[Delivery]:
    # Newest first by primary key: an index scan that stops after the page, however many
    # deliveries there are (the failed ones are listed on their own above the list).
    rows = scope.deliveries(request.user).select_related("invoice")
    if status:
        rows = rows.filter(status=status)
    if number is not None:
        rows = rows.filter(invoice__number=number)
    return rows.order_by("-id")


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
    page = paginate(request, _rows(request, status, number))
    attention = [] if status or number is not None else _attention(request)
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
        "queued": counts.get(Delivery.Status.QUEUED, 0),
        "attention": attention,
        "attention_count": sum(counts.get(s, 0) for s in ATTENTION),
        "may_deliver": may_deliver,
        "filter_errors": errors,
        "running": jobs.running("deliver", "deliver"),
        **extra,
    }


@require("access.view_billing")
def index(request: HttpRequest) -> HttpResponse:
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
            _deliver_work([number]),
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


def _deliver_work(numbers: list[int] | None = None) -> jobs.Work:
    def work(progress: jobs.Progress) -> dict[str, Any]:
        progress(0, 1)
        try:
            # The channels that are set up are delivered; the others' documents stay queued
            # and the result says which setting they wait for.
            report = services.deliver(numbers=numbers or (), skip_unconfigured=True)
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

    return work


def _needed_channels(request: HttpRequest) -> tuple[set[str], int]:
    """The channels that delivering now would use, and how many documents wait: the queued and
    failed rows' channels, and the route of each issued document without a delivery (read
    until every channel has been seen). A dry run of ``deliver`` would build every row, seconds
    for a large queue."""
    waiting = scope.deliveries(request.user).filter(
        status__in=(Delivery.Status.QUEUED, Delivery.Status.FAILED)
    )
    channels = set(waiting.values_list("channel", flat=True).distinct())
    undelivered = (
        scope.invoices(request.user)
        .filter(status=Invoice.Status.ISSUED)
        .exclude(Exists(Delivery.objects.filter(invoice=OuterRef("pk"))))
    )
    count = waiting.count() + undelivered.count()
    for invoice in undelivered.only("kind", "buyer").iterator(chunk_size=2000):
        channels.add(route(invoice).channel)
        if len(channels) == len(Channel.values):
            break
    return channels, count


@require("access.deliver_documents", section="deliveries")
@require_POST
def deliver_now(request: HttpRequest) -> HttpResponse:
    # Checked here as well as in the job, so a missing setting is said in this page at once:
    # nothing can go when no needed channel is set up; otherwise those that are set up go.
    channels, count = _needed_channels(request)
    if not count:
        messages.info(request, "Det finns inget att leverera: inga dokument väntar.")
        return redirect("web:deliveries")
    missing = {}
    for channel in sorted(channels):
        try:
            SENDERS[channel]().check()
        except services.MissingSetting as error:
            missing[channel] = f"{services.channel_not_set_up(channel)}: {str(error).rstrip('.')}"
    if missing and len(missing) == len(channels):
        return _refuse(request, "Ingenting levererades. " + " ".join(missing.values()))
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
            f"Leverans av {count} dokument",
            _deliver_work(),
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
