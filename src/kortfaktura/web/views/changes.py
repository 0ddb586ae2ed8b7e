"""Ändringar: changes to invoiced orders waiting for a decision, and accepting or rejecting them.

A decision is about an order: accepting or rejecting one change decides every waiting change of
the same order (billing.changes). Accepting credits the orders, so it asks for confirmation.
"""

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from kortfaktura.billing import changes as service
from kortfaktura.billing.services import BillingError
from kortfaktura.orders.models import OrderChange
from kortfaktura.web.views.common import paginate, require
from kortfaktura.web.views.runs import page_message

STATUSES = [
    ("pending", "Väntar på beslut"),
    ("accepted", "Godkända"),
    ("rejected", "Avvisade"),
    ("all", "Alla"),
]
STATUS_WORDS = {
    "pending": "väntar på beslut",
    "accepted": "godkänd",
    "rejected": "avvisad",
}
MAX_SELECTED = 1000


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("accept", "Godkänn"), ("reject", "Avvisa")],
        error_messages={
            "required": "Välj Godkänn eller Avvisa.",
            "invalid_choice": "Välj Godkänn eller Avvisa.",
        },
    )
    changes = forms.CharField(required=False)
    reason = forms.CharField(
        label="Orsak",
        max_length=1000,
        error_messages={
            "required": "Ange en orsak till beslutet, till exempel ”Kortet beställdes av fel "
            "enhet”.",
            "max_length": "Orsaken får vara högst %(limit_value)d tecken.",
        },
    )

    def __init__(self, *args: Any, selected: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.selected = selected

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ids = []
        for text in self.selected:
            if not text.isdigit() or len(text) > 18:
                self.add_error(None, f"Ogiltigt ändrings-id {text[:20]!r}.")
                return data
            ids.append(int(text))
        ids = list(dict.fromkeys(ids))
        if not ids:
            self.add_error(None, "Välj minst en ändring i listan.")
        elif len(ids) > MAX_SELECTED:
            self.add_error(None, f"Välj högst {MAX_SELECTED} ändringar åt gången.")
        data["ids"] = ids
        return data


def _label(field: str) -> str:
    return service.FIELD_LABELS.get(field, field)


def _rows(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **change,
            "field_label": _label(change["field"]),
            "status_word": STATUS_WORDS.get(change["status"], change["status"]),
        }
        for change in changes
    ]


def _list_context(request: HttpRequest, status: str) -> dict[str, Any]:
    page = paginate(request, service.changes_of(status))
    page.rows = _rows(service.changes_json(page.rows))
    return {
        "page_title": "Ändringar",
        "page": page,
        "status": status,
        "statuses": STATUSES,
    }


def _status(request: HttpRequest) -> str:
    status = request.GET.get("status", "pending")
    return status if status in dict(STATUSES) else "pending"


@require("access.view_billing", section="changes")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/changes/index.html", _list_context(request, _status(request)))


@require("access.decide_changes", section="changes")
def decide(request: HttpRequest) -> HttpResponse:
    """POST from the list: review the decision; POST with ``step=confirm``: make it."""
    if request.method != "POST":
        return index(request)
    selected = request.POST.getlist("change")
    form = DecisionForm(request.POST, selected=selected)
    if not form.is_valid():
        listed = _list_context(request, "pending")
        listed.update(form=form, selected=selected, reason=request.POST.get("reason", ""))
        return render(request, "web/changes/index.html", listed, status=400)
    ids: list[int] = form.cleaned_data["ids"]
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"]
    picked = OrderChange.objects.filter(pk__in=ids).select_related("order", "batch")
    chosen = _rows(service.changes_json(list(picked.order_by("id"))))
    context: dict[str, Any] = {
        "page_title": "Bekräfta beslut",
        "action": action,
        "reason": reason,
        "chosen": chosen,
        "ids": ids,
    }
    if request.POST.get("step") != "confirm":
        return render(request, "web/changes/confirm.html", context)
    decide_with = service.accept_changes if action == "accept" else service.reject_changes
    try:
        decision = decide_with(ids, reason=reason, decided_by=request.user.get_username())
    except BillingError as error:
        context["error"] = page_message(error)
        return render(request, "web/changes/confirm.html", context, status=400)
    return render(
        request,
        "web/changes/result.html",
        {
            "page_title": "Beslutet är fattat",
            "decision": decision,
            "accepted": decision.status == OrderChange.Status.ACCEPTED,
            "changes": _rows(decision.changes),
            "together": decision.decided_together,
            "reason": decision.changes[0]["reason"] if decision.changes else reason,
        },
    )


urlpatterns = [
    path("andringar/", index, name="changes"),
    path("andringar/beslut/", decide, name="changes_decide"),
]
