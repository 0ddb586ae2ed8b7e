"""Swedish formats in templates: ``{{ amount|kr }}`` → ``1 234,50 kr``, ``{{ date|dag }}``."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone

from kortfaktura import swedish

register = template.Library()


@register.filter
def kr(value: Any) -> str:
    if value is None or value == "":
        return "–"
    try:
        return swedish.money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def belopp(value: Any) -> str:
    """An amount without the currency, for table columns headed "kr"."""
    if value is None or value == "":
        return "–"
    try:
        return swedish.money(Decimal(str(value)), currency=False)
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def dag(value: Any) -> str:
    """``2020-03-31`` (the Swedish standard date), in Swedish time for a moment."""
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "–" if value in (None, "") else str(value)


@register.filter
def tidpunkt(value: Any) -> str:
    """``2026-11-29 06:12`` in Swedish time."""
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local:%Y-%m-%d %H:%M}"
    return "–" if value in (None, "") else str(value)


@register.filter
def manad(value: Any) -> str:
    if isinstance(value, dt.date):
        return swedish.month(value)
    return "–" if value in (None, "") else str(value)


@register.filter
def antal(value: Any) -> str:
    try:
        return swedish.count(int(value))
    except (TypeError, ValueError):
        return str(value)


@register.filter
def orgnr(value: Any) -> str:
    text = str(value or "")
    return f"{text[:6]}-{text[6:]}" if len(text) == 10 and text.isdigit() else text


@register.simple_tag(takes_context=True)
def query(context: Any, **changes: Any) -> str:
    """The current query string with some parameters changed (for paging and sorting links)."""
    params = context["request"].GET.copy()
    for name, value in changes.items():
        if value in (None, ""):
            params.pop(name, None)
        else:
            params[name] = value
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"


@register.filter
def i_ko(job: Any) -> Any:
    """``Queued`` while the job's task waits for a worker (jobs.selectors.queued), else None."""
    from kortfaktura.jobs.selectors import queued

    return queued(job)


@register.filter
def antal_ord(value: Any, forms: str) -> str:
    """A count with its word in the right number: ``{{ n|antal_ord:"beställning,beställningar" }}``
    gives ``1 beställning`` and ``12 345 beställningar`` (Swedish has no plural rule to derive
    from the singular, so both forms are given)."""
    singular, _, plural = forms.partition(",")
    try:
        number = int(value)
    except (TypeError, ValueError):
        return f"{value} {plural or singular}"
    return swedish.counted(number, singular, plural or singular)
