"""Genomlysning: the review (R18) with its charts, from the latest review of the period.

A review of a million orders takes seconds, so the page never computes it: it shows the latest
review of the period kept by ``review.latest`` (with its age, and whether data has changed
since) and starts a new one in the background when there is none or it is out of date. The
figures are ``build_review``'s, the same as ``kortfaktura review``; the HTML and Excel reports
written with each review are offered for download.
"""

import datetime as dt
from pathlib import Path
from typing import Any

from django import forms
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from kortfaktura.billing.changes import FIELD_LABELS
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.review import html as charts
from kortfaktura.review import latest as reviews
from kortfaktura.review.report import STATE_LABELS, STATES, ZERO
from kortfaktura.web import links
from kortfaktura.web.views.common import require

SHOWN = 100
# The section of the page that lists each kind of finding the verdict names.
SECTIONS = {
    "discrepancies": "avvikelser",
    "unbalanced_months": "per-manad",
    "held_back": "tillbakahallna",
    "customer_data": "kunduppgifter",
    "pending_changes": "andringar",
    "gaps": "numrering",
    "invalid_documents": "dokument",
    "unbooked_documents": "bokforing",
    "exports": "bokforing",
    "unmatched_payments": "betalningar",
    "refunds": "betalningar",
}
DATE_HELP = "Ange datumet som ÅÅÅÅ-MM-DD, t.ex. 2020-03-31."


class PeriodForm(forms.Form):
    from_ = forms.DateField(
        required=False, label="Beställda från", error_messages={"invalid": DATE_HELP}
    )
    to = forms.DateField(
        required=False, label="Beställda till och med", error_messages={"invalid": DATE_HELP}
    )

    def __init__(self, data: Any, *args: Any, **kwargs: Any) -> None:
        # "from" is a Python keyword: the field is from_ here and "from" in the query string.
        data = data.copy()
        if "from" in data:
            data["from_"] = data["from"]
        super().__init__(data, *args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from_"), cleaned.get("to")
        if start and end and start > end:
            raise forms.ValidationError(
                f"Från-datumet {start.isoformat()} är efter till-datumet {end.isoformat()} – "
                "byt plats på datumen."
            )
        return cleaned


def _period(form: PeriodForm) -> tuple[dt.date | None, dt.date | None]:
    if not form.is_valid():
        return None, None
    return form.cleaned_data.get("from_"), form.cleaned_data.get("to")


def age_text(age: dt.timedelta | None) -> str:
    """``för 3 minuter sedan``: how old the figures are, in words."""
    if age is None:
        return ""
    seconds = max(0, int(age.total_seconds()))
    for size, one, many in ((86400, "dag", "dagar"), (3600, "timme", "timmar"),
                            (60, "minut", "minuter")):  # fmt: skip
        if seconds >= size:
            n = seconds // size
            return f"för {n} {one if n == 1 else many} sedan"
    return "alldeles nyss"


def _query(start: dt.date | None, end: dt.date | None) -> str:
    parts = [f"{n}={v.isoformat()}" for n, v in (("from", start), ("to", end)) if v is not None]
    return "?" + "&".join(parts) if parts else ""


@require("access.view_review")
def index(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET)
    if request.GET and not form.is_valid():
        return render(
            request,
            "web/review/index.html",
            {"page_title": "Genomlysning", "form": form, "invalid": True},
            status=400,
        )
    start, end = _period(form)
    found = reviews.latest(start, end, refresh_as=request.user.get_username())
    context = _context(form, start, end, found)
    # Numbers on the page link to their pages for those who may open them.
    context["may_follow"] = request.user.has_perm("access.view_billing")
    if found.figures:
        context.update(_links(request, found.figures, context["changes"]))
    return render(request, "web/review/index.html", context)


def _context(
    form: PeriodForm, start: dt.date | None, end: dt.date | None, found: reviews.Latest
) -> dict[str, Any]:
    figures = found.figures
    context: dict[str, Any] = {
        "page_title": "Genomlysning",
        "form": form,
        "start": start,
        "end": end,
        "query": _query(start, end),
        "review": found,
        "age": age_text(found.age),
        "job": found.running,
        "figures": figures,
    }
    if not figures:
        return context
    months = reviews.month_rows(figures)
    by_reason = {e["label"]: e["count"] for e in figures["held_back_by_reason"]}
    held_back = []
    for entry in figures["held_back_by_reason"]:
        release, page, _ = reviews.release_of(entry["reason"])
        held_back.append({**entry, "release": release, "url": reverse(f"web:{page}")})
    totals = {name: sum(getattr(m, name) for m in months) for name in ("orders", *STATES)}
    changes = [
        {**change, "field_label": FIELD_LABELS.get(change["field"], change["field"])}
        for change in figures["pending_changes"][:SHOWN]
    ]
    files = (found.job.result.get("files") or {}) if found.job else {}
    attention = [
        {**entry, "section": SECTIONS.get(entry["kind"], "omdome")}
        for entry in reviews.attention_of(figures)
    ]
    context.update(
        {
            "attention": attention,
            # Green only when everything ties and nothing needs a person.
            "all_clear": bool(figures["balanced"]) and not attention,
            "months": months,
            "states": [(state, STATE_LABELS[state]) for state in STATES],
            "totals": totals,
            "invoiced_net": sum((m.invoiced_net for m in months), ZERO),
            "documents_net": sum((m.documents_net for m in months), ZERO),
            "held_back_reasons": held_back,
            "held_back": figures["held_back"][:SHOWN],
            "changes": changes,
            "customer_data": figures["customer_data"],
            "gaps": [f"{a}–{b}" if a != b else str(a) for a, b in figures["gap_ranges"]],
            # Built by review.html, which escapes every text taken from the data.
            "charts": [
                (caption, mark_safe(svg))
                for caption, svg in (
                    ("Beställningar per beställningsmånad och läge", charts.orders_chart(months)),
                    ("Fakturerat netto per beställningsmånad", charts.amount_chart(months)),
                    ("Tillbakahållna beställningar per skäl", charts.reasons_chart(by_reason)),
                )
            ],
            "downloads": found.job is not None and bool(files),
        }
    )
    return context


def _links(
    request: HttpRequest, figures: dict[str, Any], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """The orders, documents and customers the page names that this reader may open."""
    held_back = figures["held_back"][:SHOWN]
    discrepancies = figures.get("discrepancies", [])
    problems = figures.get("customer_data", [])
    customers = links.customer_urls(request.user, [p["orgnr"] for p in problems])
    return {
        "customer_data": [{**p, "url": customers.get(p["orgnr"], "")} for p in problems],
        "order_links": links.visible_orders(
            request.user,
            [f["order_id"] for f in held_back]
            + [d.get("order_id") for d in discrepancies]
            + [c["order_id"] for c in changes],
        ),
        "document_links": links.visible_documents(
            request.user,
            [d.get("number") for d in discrepancies]
            + [d["number"] for d in figures.get("invalid_documents", [])]
            + [c["invoice_number"] for c in changes],
        ),
    }


@require("access.view_review", section="review")
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "web/review/index.html",
            {"page_title": "Genomlysning", "form": form, "invalid": True},
            status=400,
        )
    start, end = _period(form)
    try:
        job = reviews.start(start, end, actor=request.user.get_username())
    except jobs.JobBusy as busy:
        job = busy.running
    if job.finished:
        return redirect(reverse("web:review") + _query(start, end))
    return redirect("web:job", pk=job.pk)


MEDIA = {
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@require("access.view_review", section="review")
def download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    if kind not in MEDIA:
        raise Http404
    job = Job.objects.filter(pk=pk, kind=reviews.KIND, status=Job.Status.DONE).first()
    if job is None:
        raise Http404
    stored = (job.result.get("files") or {}).get(kind)
    folder = reviews.reports_dir().resolve()
    file = Path(stored).resolve() if stored else None
    if file is None or folder not in file.parents or not file.is_file():
        raise Http404("Rapporten finns inte längre – gör en ny genomlysning.")
    figures = job.result.get("figures") or {}
    made = str(figures.get("made_at", ""))[:10]
    if figures.get("from") or figures.get("to"):
        span = f"{figures.get('from') or 'start'}-{figures.get('to') or made}"
    else:
        span = f"alla-{made}"
    name = f"genomlysning-{span}.{kind}"
    response = FileResponse(file.open("rb"), as_attachment=True, filename=name)
    response["Content-Type"] = MEDIA[kind]
    return response  # type: ignore[return-value]  # streamed; ``require`` expects HttpResponse


urlpatterns = [
    path("genomlysning/", index, name="review"),
    path("genomlysning/rakna-om/", refresh, name="review_refresh"),
    path("genomlysning/rapport/<int:pk>/<str:kind>/", download, name="review_download"),
]
