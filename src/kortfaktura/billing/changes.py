"""Decisions on changes to invoiced orders (DOMAIN.md R12, R14): ``kortfaktura changes``.

An import that changes an invoiced order's billing data (customer, unit, product, order date)
does not apply it: the change waits (``pending``) and the order stays on its invoice as it was
invoiced. A person decides:

* accept – the order is credited on its invoice (a credit note with the given reason), the change
  is carried out, and the next run that covers the order's month bills it with the new data;
* reject – the invoice stands, the order keeps the data it was invoiced with, and the change is
  recorded as rejected (who, when, why). Importing the same change again does not ask again.

A decision is about an order, not a single field: the changes of one order (an import that moved
it to another customer and unit records two) are decided together. Accepting or rejecting one of
them decides every change of that order that waits, and the answer lists them all. A credit note
cannot credit half an order, and a rejected customer with an accepted unit would bill a
combination nobody sent.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from kortfaktura.audit.services import record
from kortfaktura.billing.facts import ACTIVE_ITEM
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.billing.services import (
    REASON_LIMIT,
    BillingError,
    UsageError,
    checked_text,
    credit_invoice,
)
from kortfaktura.orders.models import Order, OrderChange
from kortfaktura.orders.services import apply_pending_changes, reject_pending_changes

ITEMS = InvoiceItem._meta.db_table
INVOICES = Invoice._meta.db_table
DECIDABLE = (OrderChange.Status.PENDING, OrderChange.Status.ACCEPTED, OrderChange.Status.REJECTED)
FIELD_LABELS = {
    "ordered_at": "beställd",
    "order_date": "beställningsdatum",
    "orgnr": "organisationsnummer",
    "unit_code": "enhetskod",
    "product_code": "artikelkod",
}


class ChangeError(BillingError):
    """A decision that cannot be made (unknown or already decided change); exit status 1."""


def invoice_numbers_of(order_pks: Iterable[int]) -> dict[int, int]:
    """The number of the issued, uncredited invoice each of the orders is on (R4: at most one)."""
    pks = list(order_pks)
    found: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            cursor.execute(
                f"SELECT i.order_id, inv.number FROM {ITEMS} i "
                f"JOIN {INVOICES} inv ON inv.id = i.invoice_id "
                f"WHERE i.order_id IN ({', '.join(['%s'] * len(chunk))}) "
                f"AND {ACTIVE_ITEM} AND inv.status = 'issued'",
                chunk,
            )
            found.update(cursor.fetchall())
    return found


def change_json(change: OrderChange, invoice_number: int | None) -> dict[str, Any]:
    """The shape of ``changes list --json`` (INTERFACES.md), with the decision added."""
    return {
        "id": change.pk,
        "order_id": change.order.order_id,
        "invoice_number": str(invoice_number) if invoice_number is not None else None,
        "field": change.field,
        "old": change.old_value,
        "new": change.new_value,
        "status": change.status,
        "order_date": change.order.order_date.isoformat(),
        "import_batch": change.batch_id,
        "file_name": change.batch.file_name,
        "recorded_at": change.batch.started_at.isoformat(),
        "decided_at": change.decided_at.isoformat() if change.decided_at else None,
        "decided_by": change.decided_by or None,
        "reason": change.decision_reason or None,
        "credit_note_number": (
            str(change.credit_note_number) if change.credit_note_number is not None else None
        ),
    }


def _as_json(changes: list[OrderChange]) -> list[dict[str, Any]]:
    live = invoice_numbers_of(
        {change.order_id for change in changes if change.status == OrderChange.Status.PENDING}
    )
    return [
        change_json(
            change,
            live.get(change.order_id)
            if change.status == OrderChange.Status.PENDING
            else change.invoice_number,
        )
        for change in changes
    ]


def changes_of(status: str = "pending") -> "QuerySet[OrderChange]":
    """The changes ``list_changes`` lists, as a queryset to take one page of (the web page)."""
    statuses = list(DECIDABLE) if status == "all" else [status]
    return (
        OrderChange.objects.filter(status__in=statuses)
        .select_related("order", "batch")
        .order_by("id")
    )


def changes_json(changes: list[OrderChange]) -> list[dict[str, Any]]:
    """Changes in the shape of ``changes list --json``, with a pending one's live invoice."""
    return _as_json(changes)


def list_changes(status: str = "pending") -> list[dict[str, Any]]:
    """Changes to invoiced orders with ``status`` (``all``: pending, accepted and rejected).

    Changes of orders that were not invoiced are carried out at import (``applied``) and are not
    listed: there is nothing to decide.
    """
    statuses = list(DECIDABLE) if status == "all" else [status]
    changes = list(
        OrderChange.objects.filter(status__in=statuses)
        .select_related("order", "batch")
        .order_by("id")
    )
    return _as_json(changes)


def pending_count() -> int:
    """Changes that wait for a decision."""
    return OrderChange.objects.filter(status=OrderChange.Status.PENDING).count()


def recorded_for_decision(batch_id: int) -> int:
    """Changes of invoiced orders that an import recorded for a decision (whether or not it has
    been made since)."""
    return OrderChange.objects.filter(batch_id=batch_id, status__in=DECIDABLE).count()


@dataclass
class Decision:
    status: str
    requested: list[int]
    changes: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: list[Invoice] = field(default_factory=list)

    @property
    def decided_together(self) -> list[int]:
        """Changes decided because they belong to the same order as a requested one."""
        return sorted({change["id"] for change in self.changes} - set(self.requested))

    def as_json(self) -> dict[str, Any]:
        """``changes accept|reject --json`` and the API's answer to a decision."""
        from kortfaktura.billing.selectors import invoices_json

        return {
            "status": self.status,
            "changes": self.changes,
            "decided_together": self.decided_together,
            "credit_notes": invoices_json(self.credit_notes),
        }


def _pending_orders(change_ids: Iterable[int]) -> tuple[list[int], dict[int, str]]:
    """The orders of the requested changes, after checking that each one waits for a decision;
    locks the changes so that two people cannot decide the same change at once."""
    wanted = list(dict.fromkeys(change_ids))
    order_pks = set(OrderChange.objects.filter(pk__in=wanted).values_list("order_id", flat=True))
    # Lock the orders, not only the named changes: a decision covers all changes of an order.
    list(Order.objects.select_for_update().filter(pk__in=order_pks).values_list("id", flat=True))
    changes = {
        change.pk: change
        for change in OrderChange.objects.filter(pk__in=wanted).select_related("order")
    }
    problems = []
    for change_id in wanted:
        change = changes.get(change_id)
        if change is None:
            problems.append(f"ändring {change_id} finns inte")
        elif change.status == OrderChange.Status.APPLIED:
            problems.append(
                f"ändring {change_id} gällde en beställning som inte var fakturerad och "
                "genomfördes redan vid importen – det finns inget att besluta"
            )
        elif change.status == OrderChange.Status.SUPERSEDED:
            problems.append(
                f"ändring {change_id} ersattes av en senare import innan något beslut fattades "
                f"({change.decision_reason})"
            )
        elif change.status != OrderChange.Status.PENDING:
            when = change.decided_at.date().isoformat() if change.decided_at else ""
            who = f" av {change.decided_by}" if change.decided_by else ""
            problems.append(
                f"ändring {change_id} är redan beslutad: {change.get_status_display().lower()} "
                f"{when}{who} ({change.decision_reason})"
            )
    if problems:
        raise ChangeError(
            "; ".join(problems) + " – se kortfaktura changes list --status all. Inget beslutades."
        )
    orders = {changes[pk].order_id: changes[pk].order.order_id for pk in wanted}
    return list(orders), orders


def _check_reason(reason: str) -> str:
    if not reason.strip():
        raise UsageError(
            "ange en orsak med --reason, t.ex. --reason 'Kortet beställdes av fel enhet'"
        )
    return checked_text("--reason", reason, REASON_LIMIT)


def _waiting(order_pks: list[int]) -> list[int]:
    return list(
        OrderChange.objects.filter(
            order_id__in=order_pks, status=OrderChange.Status.PENDING
        ).values_list("id", flat=True)
    )


def _decided(change_ids: list[int], requested: list[int], status: str) -> Decision:
    changes = list(
        OrderChange.objects.filter(pk__in=change_ids)
        .select_related("order", "batch")
        .order_by("id")
    )
    return Decision(status, requested, [change_json(c, c.invoice_number) for c in changes])


def _record_decision(decision: Decision, reason: str, decided_by: str) -> None:
    """One audit record per order decided: its changes' fields before → after (R19)."""
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in decision.changes:
        by_order[change["order_id"]].append(change)
    for order_id, changes in by_order.items():
        details: dict[str, Any] = {
            change["field"]: {"before": change["old"], "after": change["new"]} for change in changes
        }
        details.update(
            changes=[change["id"] for change in changes],
            order_id=order_id,
            invoice=changes[0]["invoice_number"],
            reason=reason,
        )
        if changes[0]["credit_note_number"]:
            details["credit_note"] = changes[0]["credit_note_number"]
        record(f"change.{decision.status}", f"beställning {order_id}", details, actor=decided_by)


def accept_changes(
    change_ids: Iterable[int],
    *,
    reason: str,
    decided_by: str = "",
    issue_date: dt.date | None = None,
) -> Decision:
    """Credit each changed order on its invoice and carry out its waiting changes (R12).

    One credit note per invoice, for the orders of the accepted changes on it. All or nothing.
    """
    reason = _check_reason(reason)
    requested = list(dict.fromkeys(change_ids))
    with transaction.atomic():
        order_pks, order_ids = _pending_orders(requested)
        deciding = _waiting(order_pks)
        numbers = invoice_numbers_of(order_pks)
        by_invoice: dict[int, list[str]] = defaultdict(list)
        for order_pk in order_pks:
            if order_pk in numbers:
                by_invoice[numbers[order_pk]].append(order_ids[order_pk])
        credit_notes = [
            credit_invoice(
                number, order_ids=ids, reason=reason, created_by=decided_by, issue_date=issue_date
            )
            for number, ids in sorted(by_invoice.items())
        ]
        # An order that is no longer on an issued invoice needs no credit note.
        not_invoiced = [pk for pk in order_pks if pk not in numbers]
        if not_invoiced:
            apply_pending_changes(not_invoiced, decided_by=decided_by, reason=reason)
        decision = _decided(deciding, requested, OrderChange.Status.ACCEPTED)
        _record_decision(decision, reason, decided_by)
    decision.credit_notes = credit_notes
    return decision


def reject_changes(change_ids: Iterable[int], *, reason: str, decided_by: str = "") -> Decision:
    """Keep the invoices as they are; record the changes as rejected. All or nothing."""
    reason = _check_reason(reason)
    requested = list(dict.fromkeys(change_ids))
    with transaction.atomic():
        order_pks, _ = _pending_orders(requested)
        deciding = _waiting(order_pks)
        numbers = invoice_numbers_of(order_pks)
        reject_pending_changes(
            {pk: numbers.get(pk) for pk in order_pks}, decided_by=decided_by, reason=reason
        )
        decision = _decided(deciding, requested, OrderChange.Status.REJECTED)
        _record_decision(decision, reason, decided_by)
        return decision
