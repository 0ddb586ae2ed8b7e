"""Översikt: what needs a person now (staff), or a customer's own invoices (Kund).

Everything here must stay fast on a million orders: the live figures are counts over small or
indexed tables (draft runs, pending changes, deliveries); what only the review can tell (orders
held back per reason, customer-data problems, months not yet billed) comes from the latest
review kept by ``review.latest``, with its age, refreshed in the background when data changed.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractYear
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from kortfaktura.access import scope
from kortfaktura.billing.changes import pending_count
from kortfaktura.billing.core import month_end
from kortfaktura.billing.models import BillingRun, HeldBackOrder, Invoice, InvoiceLine
from kortfaktura.cycle.models import Notification
from kortfaktura.cycle.schedule import schedule_list
from kortfaktura.delivery.models import Delivery
from kortfaktura.review import latest as reviews
from kortfaktura.web.views.common import require

TROUBLE = (Delivery.Status.FAILED, Delivery.Status.REJECTED, Delivery.Status.UNCERTAIN)
DRAFTS_SHOWN = 10
INVOICES_SHOWN = 10


@require()
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    customer = scope.customer_of(user)
    if customer is not None:
        return render(request, "web/overview/customer.html", _customer_context(request, customer))
    if not scope.is_staff_reader(user):
        return render(request, "web/overview/no_role.html", {"page_title": "Översikt"})
    return render(request, "web/overview/staff.html", _staff_context(request))


def _may(request: HttpRequest, *permissions: str) -> bool:
    return any(request.user.has_perm(p) for p in permissions)


def _staff_context(request: HttpRequest) -> dict[str, Any]:
    drafts_all = BillingRun.objects.filter(status=BillingRun.Status.DRAFT)
    drafts = list(drafts_all.order_by("-id")[:DRAFTS_SHOWN])
    # Counted per run from the indexed foreign keys: a join of both would multiply the rows.
    documents = dict(
        Invoice.objects.filter(run__in=drafts)
        .values_list("run_id")
        .annotate(n=Count("id"))
        .values_list("run_id", "n")
    )
    held = dict(
        HeldBackOrder.objects.filter(run__in=drafts)
        .values_list("run_id")
        .annotate(n=Count("id"))
        .values_list("run_id", "n")
    )
    runs_url = reverse("web:runs")
    for run in drafts:
        run.url = f"{runs_url}{run.pk}/"  # type: ignore[attr-defined]
        run.documents = documents.get(run.pk, 0)  # type: ignore[attr-defined]
        run.held = held.get(run.pk, 0)  # type: ignore[attr-defined]
    deliveries = dict(
        Delivery.objects.filter(status__in=[*TROUBLE, Delivery.Status.QUEUED])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    trouble = [
        {"status": status, "label": Delivery.Status(status).label, "count": deliveries[status]}
        for status in TROUBLE
        if deliveries.get(status)
    ]
    may_review = request.user.has_perm("access.view_review")
    found = reviews.latest(refresh_as=request.user.get_username() if may_review else None)
    figures = found.figures
    return {
        "page_title": "Översikt",
        "dual_control": settings.DUAL_CONTROL,
        "drafts": drafts,
        "drafts_count": drafts_all.count() if len(drafts) == DRAFTS_SHOWN else len(drafts),
        "may_issue": _may(request, "access.issue_runs"),
        "may_discard": _may(request, "access.discard_runs"),
        "may_draft": _may(request, "access.draft_runs"),
        "may_decide": _may(request, "access.decide_changes"),
        "may_deliver": _may(request, "access.deliver_documents"),
        "may_edit_customers": _may(request, "access.edit_customers"),
        "may_review": may_review,
        "pending_changes": pending_count(),
        "trouble": trouble,
        "trouble_count": sum(item["count"] for item in trouble),
        "queued": deliveries.get(Delivery.Status.QUEUED, 0),
        "review": found,
        "figures": figures,
        # The review's verdict as on Genomlysning: green only when nothing needs a person.
        "review_attention": reviews.attention_of(figures) if figures else [],
        "held_back": _held_back(request, figures) if figures else [],
        "unbilled_months": _unbilled_months(figures) if figures else [],
        **_schedule(),
    }


def _schedule() -> dict[str, Any]:
    """The monthly cycle's steps with their last and next runs (R24), and the notifications
    that could not be sent (no address for the role, no SMTP setting)."""
    rows = schedule_list()
    words = {"queued": "i kö", "running": "pågår"}
    for row in rows:
        row["next_at"] = dt.datetime.fromisoformat(row["next"]) if row["next"] else None
        if row["last"]:
            row["last"]["slot_at"] = dt.datetime.fromisoformat(row["last"]["slot"])
            row["last"]["status_text"] = words.get(row["last"]["status"], row["last"]["status"])
    unsent = Notification.objects.exclude(status=Notification.Status.SENT)
    return {
        "schedule": rows,
        "unsent_notifications": unsent.count(),
        "last_unsent": unsent.order_by("-id").first(),
    }


def _held_back(request: HttpRequest, figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in figures.get("held_back_by_reason", []):
        release, page, permissions = reviews.release_of(entry["reason"])
        rows.append(
            {
                **entry,
                "release": release,
                "url": reverse(f"web:{page}"),
                "may_act": _may(request, *permissions),
            }
        )
    return rows


def _unbilled_months(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Order months that have ended and still have billable orders in no run (R8: a month is
    billed after it has ended)."""
    today = timezone.localdate()
    months = []
    for month in figures.get("months", []):
        first = dt.date.fromisoformat(f"{month['month']}-01")
        if month["unbilled"] and month_end(first) < today:
            months.append(
                {
                    "month": month["month"],
                    "unbilled": month["unbilled"],
                    "from": first,
                    "to": month_end(first),
                }
            )
    return months


def _customer_context(request: HttpRequest, customer: Any) -> dict[str, Any]:
    documents = scope.invoices(request.user)
    latest = list(
        documents.select_related("credits").order_by("-issue_date", "-number")[:INVOICES_SHOWN]
    )
    invoices_url = reverse("web:invoices")
    for invoice in latest:
        invoice.url = f"{invoices_url}{invoice.number}/"  # type: ignore[attr-defined]
    years = list(
        documents.annotate(year=ExtractYear("issue_date"))
        .values("year")
        .annotate(
            documents=Count("id"),
            credits=Count("id", filter=Q(kind__in=("credit_note", "internal_credit"))),
            net=Sum("net"),
            vat=Sum("vat"),
            payable=Sum("payable"),
        )
        .order_by("-year")
    )
    # What the cards ordered in each year cost: the lines name their order month (credit lines
    # count negative), so a backlog billed in one year still shows under the years ordered.
    order_years = list(
        InvoiceLine.objects.filter(invoice__in=documents.values("id"))
        .annotate(year=ExtractYear("order_month"))
        .values("year")
        .annotate(cards=Sum("quantity"), net=Sum("net"))
        .order_by("-year")
    )
    return {
        "page_title": "Översikt",
        "customer": customer,
        "order_years": order_years,
        "invoices": latest,
        "invoice_count": documents.count(),
        "years": years,
        "total_payable": sum((y["payable"] or Decimal(0) for y in years), Decimal(0)),
    }


urlpatterns = [
    path("", index, name="overview"),
]
