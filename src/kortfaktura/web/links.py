"""Which numbers on a page may be links to the page of what they name (issue 21, item 7).

A number is a link only when its page exists and the reader may open it: a link never answers
404 or 403 to the person who follows it. Pages that name objects kept as text (the review's
stored figures, the audit trail) ask here, a handful of indexed lookups per page.
"""

import re
from collections.abc import Iterable
from typing import Any

from django.urls import reverse

from kortfaktura.access import scope
from kortfaktura.billing.models import BillingRun
from kortfaktura.customers.identifiers import InvalidIdentifier, normalize_orgnr
from kortfaktura.imports.models import ImportBatch

# How the services name objects in the audit trail ("faktura 100001", "körning 4",
# "beställning VG-2", "kund 212000-1454"; an import is "fil NAME" with its batch in details).
AUDIT_OBJECT = re.compile(
    r"^(?P<kind>faktura|kreditfaktura|intern debitering|intern kreditering|körning|beställning"
    r"|kund) (?P<name>\S.*)$"
)
DOCUMENT_WORDS = ("faktura", "kreditfaktura", "intern debitering", "intern kreditering")


def _digits(orgnr: str) -> str:
    try:
        return normalize_orgnr(orgnr)
    except InvalidIdentifier:
        return ""


def visible_orders(user: Any, order_ids: Iterable[str]) -> set[str]:
    """Those of the order ids whose order page this user may open."""
    wanted = sorted({str(order_id) for order_id in order_ids if order_id})
    if not wanted:
        return set()
    return set(scope.orders(user).filter(order_id__in=wanted).values_list("order_id", flat=True))


def visible_documents(user: Any, numbers: Iterable[Any]) -> set[str]:
    """Those of the document numbers whose page this user may open, as text (the stored
    figures keep some numbers as text and some as integers)."""
    wanted = sorted({int(n) for n in numbers if n not in (None, "") and str(n).isdigit()})
    if not wanted:
        return set()
    found = scope.invoices(user).filter(number__in=wanted).values_list("number", flat=True)
    return {str(number) for number in found}


def customer_urls(user: Any, orgnrs: Iterable[str]) -> dict[str, str]:
    """The customer page of each organisation number (as written) that has one this user may
    open; only staff have customer pages."""
    if not user.has_perm("access.view_billing"):
        return {}
    digits = {orgnr: _digits(orgnr) for orgnr in orgnrs if orgnr}
    known = set(
        scope.customers(user)
        .filter(orgnr__in=sorted({d for d in digits.values() if d}))
        .values_list("orgnr", flat=True)
    )
    return {
        orgnr: reverse("web:customer", args=[number])
        for orgnr, number in digits.items()
        if number in known
    }


def audit_object_urls(user: Any, entries: Iterable[Any]) -> dict[int, str]:
    """The page of each audit record's object, by the record's id, where there is one."""
    if not user.has_perm("access.view_billing"):
        return {}
    named: dict[int, tuple[str, str]] = {}
    batches: dict[int, int] = {}
    for entry in entries:
        details = entry.details if isinstance(entry.details, dict) else {}
        match = AUDIT_OBJECT.match(entry.object or "")
        if match:
            named[entry.pk] = (match["kind"], match["name"].strip())
        elif (entry.object or "").startswith("fil ") and isinstance(details.get("batch"), int):
            batches[entry.pk] = details["batch"]
    numbers = visible_documents(
        user, (name for kind, name in named.values() if kind in DOCUMENT_WORDS)
    )
    orders = visible_orders(user, (name for kind, name in named.values() if kind == "beställning"))
    customers = customer_urls(user, (name for kind, name in named.values() if kind == "kund"))
    runs = {
        str(pk)
        for pk in BillingRun.objects.filter(
            pk__in=[
                int(name) for kind, name in named.values() if kind == "körning" and name.isdigit()
            ]
        ).values_list("pk", flat=True)
    }
    known_batches = set(
        ImportBatch.objects.filter(pk__in=set(batches.values())).values_list("pk", flat=True)
    )
    urls: dict[int, str] = {}
    for pk, (kind, name) in named.items():
        if kind in DOCUMENT_WORDS and name in numbers:
            urls[pk] = reverse("web:invoice", args=[int(name)])
        elif kind == "körning" and name in runs:
            urls[pk] = reverse("web:run", args=[int(name)])
        elif kind == "beställning" and name in orders:
            urls[pk] = reverse("web:order", args=[name])
        elif kind == "kund" and name in customers:
            urls[pk] = customers[name]
    for pk, batch in batches.items():
        if batch in known_batches:
            urls[pk] = reverse("web:import", args=[batch])
    return urls
