"""Reading the audit trail (DOMAIN.md R19)."""

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from kortfaktura.audit.models import AuditRecord

# No record is older or newer than these; they keep a filter's moment within what a time zone
# conversion (and the database) can hold, so 0001-01-01 or 9999-12-31 filter instead of failing.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(9999, 12, 30)


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in Europe/Stockholm (the project's time zone)."""
    day = min(max(day, EARLIEST_DAY), LATEST_DAY)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def records(since: dt.date | None = None, object_text: str | None = None) -> list[AuditRecord]:
    """Records from the start of the Stockholm day ``since`` on, whose object or action
    contains ``object_text`` (any case), oldest first."""
    found = AuditRecord.objects.order_by("at", "id")
    if since is not None:
        found = found.filter(at__gte=start_of_day(since))
    text = (object_text or "").strip()
    if not text:
        return list(found)
    if connection.vendor == "sqlite" and not text.isascii():
        # SQLite's LIKE folds the case of ASCII letters only ("Körning" would miss "KÖRNING").
        wanted = text.casefold()
        return [
            entry
            for entry in found
            if wanted in entry.object.casefold() or wanted in entry.action.casefold()
        ]
    return list(found.filter(Q(object__icontains=text) | Q(action__icontains=text)))


def _contains(column: str, text: str) -> Q:
    """``column`` contains ``text`` in any case, in SQL. SQLite folds only ASCII letters, so
    there the common spellings of a non-ASCII text are tried too ("Körning", "KÖRNING")."""
    if connection.vendor != "sqlite" or text.isascii():
        return Q(**{f"{column}__icontains": text})
    variants = {text, text.lower(), text.upper(), text.capitalize(), text.title()}
    condition = Q()
    for variant in variants:
        condition |= Q(**{f"{column}__icontains": variant})
    return condition


def search(
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    object_text: str = "",
    actor: str = "",
    action: str = "",
) -> "QuerySet[AuditRecord]":
    """Records newest first, filtered in the database (the trail is never loaded whole).

    ``action`` is an exact action, or ``prefix.*`` for a family such as ``import.*``.
    """
    found = AuditRecord.objects.order_by("-at", "-id")
    if since is not None:
        found = found.filter(at__gte=start_of_day(since))
    if until is not None and until < LATEST_DAY:
        found = found.filter(at__lt=start_of_day(until + dt.timedelta(days=1)))
    if object_text.strip():
        found = found.filter(_contains("object", object_text.strip()))
    if actor.strip():
        found = found.filter(_contains("actor", actor.strip()))
    if action.endswith(".*"):
        found = found.filter(action__startswith=action[:-1])
    elif action:
        found = found.filter(action=action)
    return found


def record_json(entry: AuditRecord) -> dict[str, Any]:
    """The shape of ``audit --json`` (INTERFACES.md)."""
    return {
        "at": timezone.localtime(entry.at).isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "object": entry.object,
        "details": entry.details,
    }
