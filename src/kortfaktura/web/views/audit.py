"""Granskningslogg: the audit trail, filtered in the database, newest first, read-only."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from kortfaktura import swedish
from kortfaktura.audit.selectors import search
from kortfaktura.audit.wording import ACTION_LABELS, DETAIL_LABELS, VALUE_WORDS
from kortfaktura.web import links
from kortfaktura.web.views import exports
from kortfaktura.web.views.common import paginate, require, sortable

# The actions the services write, with Swedish words; the codes not listed show as written.
ACTIONS: dict[str, str] = {
    **ACTION_LABELS,
    "internal_credit.issued": "intern kreditering utfärdad",
    "export.sie": "bokföring exporterad (SIE)",
    "delivery.queued": "leverans köad",
    "delivery.sent": "leverans skickad",
    "delivery.failed": "leverans misslyckad",
    "delivery.uncertain": "leverans osäker",
    "delivery.resent": "leverans skickad igen",
    "delivery.print_batch": "utskrift",
    "delivery.receipt": "leveranskvitto",
    "delivery.receipt_duplicate": "leveranskvitto (dubblett)",
    "delivery.receipt_quarantined": "leveranskvitto i karantän",
}
# Families offered in the filter as one choice ("prefix.*").
FAMILIES = {
    "import.*": "all import",
    "customer.*": "alla kundändringar",
    "account.*": "alla ändringar av fakturamottagare",
    "price.*": "alla prisändringar",
    "run.*": "alla körningar",
    "change.*": "alla beslut om ändringar",
    "delivery.*": "alla leveranser",
}
# Actions written in Swedish already (users and logins).
SWEDISH_ACTIONS = (
    "inloggning",
    "misslyckad inloggning",
    "utloggning",
    "användare skapad",
    "användare ändrad",
    "användare aktiverad",
    "användare spärrad",
    "API-nyckel skapad",
)
LABELS: dict[str, str] = {
    **DETAIL_LABELS,
    "warnings": "varningar",
    "chart": "kontoplan",
    "vouchers": "verifikationer",
    "debit": "debet",
    "credit": "kredit",
    "first_number": "lägsta nummer",
    "last_number": "högsta nummer",
    "series": "serie",
    "accounts": "konton",
    "receivable": "kundfordran",
    "revenue": "intäkt",
    "rounding": "avrundning",
    "internal_cost": "intern kostnad",
    "internal_revenue": "intern intäkt",
}
MONEY = {"net", "vat", "payable", "debit", "credit", "unit_price", "amount", "rounding_amount"}
LIST_LIMIT = 25  # items of one list shown; the rest are counted
TEXT_LIMIT = 400  # characters of one value
FIELD_LIMIT = 100  # characters of a filter
SORT_KEYS = {"tid": ("at",), "vem": ("actor",), "vad": ("action",), "objekt": ("object",)}
# Counting a long trail costs more than the page: the pager counts this far ("av fler än …").
COUNT_LIMIT = 100_000


def action_choices() -> list[tuple[str, str]]:
    choices = [(code, label) for code, label in ACTIONS.items()]
    choices += [(name, name) for name in SWEDISH_ACTIONS]
    choices.sort(key=lambda choice: choice[1].casefold())
    families = sorted(FAMILIES.items(), key=lambda choice: choice[1])
    return families + choices


def _text(value: Any, name: str = "") -> str:
    if value is None:
        return "–"
    if value == "":
        return "(tomt)"
    if value is True:
        return "ja"
    if value is False:
        return "nej"
    if isinstance(value, list):
        if not value:
            return "(inga)"
        shown = [_text(item) for item in value[:LIST_LIMIT]]
        more = len(value) - LIST_LIMIT
        return ", ".join(shown) + (f" … och {more} till" if more > 0 else "")
    if isinstance(value, dict):
        return "; ".join(f"{LABELS.get(k, k)}: {_text(v, k)}" for k, v in value.items())
    if name in MONEY and isinstance(value, str | int | float):
        try:
            return swedish.money(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            pass
    if isinstance(value, str):
        value = VALUE_WORDS.get(name, {}).get(value, value)
    text = str(value)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


@dataclass
class Detail:
    label: str
    value: str = ""
    before: str = ""
    after: str = ""
    is_change: bool = False


def readable(details: dict[str, Any]) -> list[Detail]:
    """Changes first (field: before → after), then the other facts, in the CLI's order."""
    order = {name: position for position, name in enumerate(LABELS)}
    items = sorted(details.items(), key=lambda item: order.get(item[0], len(order)))
    changes, facts = [], []
    for name, value in items:
        if isinstance(value, dict) and set(value) == {"before", "after"}:
            changes.append(
                Detail(
                    LABELS.get(name, name),
                    before=_text(value["before"], name),
                    after=_text(value["after"], name),
                    is_change=True,
                )
            )
        else:
            facts.append(Detail(LABELS.get(name, name), value=_text(value, name)))
    return changes + facts


def _since(text: str, errors: list[str], label: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label} ”{text}” är inget datum – skriv ÅÅÅÅ-MM-DD, t.ex. 2026-11-01.")
        return None


def _details_text(entry: Any) -> str:
    details = readable(entry.details if isinstance(entry.details, dict) else {})
    return "; ".join(
        f"{d.label}: {d.before} → {d.after}" if d.is_change else f"{d.label}: {d.value}"
        for d in details
    )


EXPORT_COLUMNS = [
    exports.Column("Tid", lambda e: e.at),
    exports.Column("Vem", lambda e: e.actor),
    exports.Column("Vad", lambda e: ACTIONS.get(e.action, e.action)),
    exports.Column("Händelsekod", lambda e: e.action),
    exports.Column("Objekt", lambda e: e.object),
    exports.Column("Detaljer", _details_text),
]


@require("access.view_review")
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    form = {
        name: request.GET.get(name, "").strip()[:FIELD_LIMIT]
        for name in ("since", "until", "object", "actor", "action")
    }
    errors: list[str] = []
    since = _since(form["since"], errors, "Från och med")
    until = _since(form["until"], errors, "Till och med")
    choices = action_choices()
    if form["action"] and form["action"] not in dict(choices):
        choices.append((form["action"], form["action"]))
    found = search(
        since=since,
        until=until,
        object_text=form["object"],
        actor=form["actor"],
        action=form["action"],
    )
    found, sorting = sortable(request, found, SORT_KEYS, "-tid")
    if exports.wanted(request):
        return exports.export(request, found, EXPORT_COLUMNS, "granskningslogg")
    page = paginate(request, found, count_limit=COUNT_LIMIT)
    urls = links.audit_object_urls(request.user, page.rows)
    rows = [
        {
            "entry": entry,
            "object_url": urls.get(entry.pk, ""),
            "action": ACTIONS.get(entry.action, entry.action),
            "details": readable(entry.details if isinstance(entry.details, dict) else {}),
        }
        for entry in page.rows
    ]
    filtered = any(form.values())
    context = {
        "page_title": "Granskningslogg",
        "form": form,
        "errors": errors,
        "choices": choices,
        "page": page,
        "rows": rows,
        "filtered": filtered,
        "sorting": sorting,
    }
    return render(request, "web/audit/index.html", context)


urlpatterns = [
    path("granskningslogg/", index, name="audit"),
]
