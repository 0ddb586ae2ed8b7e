"""Reading payments and receivables (kundreskontra, R22).

open = payable − payments − what its credit notes credit; everything as known at a date
(payments by payment day, credit notes by issue date). Three aggregate queries for any number of
invoices.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from kortfaktura.billing.models import Invoice
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.payments.models import Payment

ZERO = Decimal("0.00")
SETTLING = (Payment.Status.MATCHED, Payment.Status.ASSIGNED)
AGEING = ("not_due", "1-30", "31-60", "61-90", "90+")
STATUS_WORDS = {
    "open": "obetald",
    "partly_paid": "delbetald",
    "paid": "betald",
    "overpaid": "överbetald",
    "credited": "krediterad",
}


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def payments_json(rows: Iterable[Payment]) -> list[dict[str, Any]]:
    return [
        {
            "id": payment.pk,
            "paid_on": payment.paid_on.isoformat(),
            "amount": _money(payment.amount),
            "kind": payment.kind,
            "reference": payment.reference,
            "information": payment.information,
            "payer": payment.payer,
            "status": payment.status,
            "matched_by": payment.matched_by or None,
            "number": str(payment.invoice.number) if payment.invoice else None,
            "file": payment.file.file_name,
            "file_id": payment.file_id,
            "reason": payment.reason or None,
        }
        for payment in rows
    ]


def payments(status: str | None = None) -> Any:
    rows = Payment.objects.select_related("invoice", "file").order_by("id")
    if status:
        rows = rows.filter(status=status)
    return rows


def status_of(payable: Decimal, paid: Decimal, credited: Decimal) -> str:
    open_amount = payable - paid - credited
    if open_amount < 0:
        return "overpaid"
    if open_amount == 0:
        return "paid" if paid != 0 or credited == 0 else "credited"
    return "partly_paid" if paid != 0 else "open"


def ageing_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "not_due"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


@dataclass
class Settlement:
    paid: Decimal
    credited: Decimal

    def open(self, payable: Decimal) -> Decimal:
        return payable - self.paid - self.credited


def settlements(
    invoice_ids: list[int] | None = None, at: dt.date | None = None
) -> dict[int, Settlement]:
    """Paid and credited per invoice at ``at`` (default: everything known now)."""
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    credited: dict[int, Decimal] = defaultdict(lambda: ZERO)
    payment_rows = Payment.objects.filter(status__in=SETTLING)
    credit_rows = Invoice.objects.filter(
        status=Invoice.Status.ISSUED, kind=Invoice.Kind.CREDIT_NOTE
    )
    if at is not None:
        payment_rows = payment_rows.filter(paid_on__lte=at)
        credit_rows = credit_rows.filter(issue_date__lte=at)
    if invoice_ids is not None:
        payment_rows = payment_rows.filter(invoice_id__in=invoice_ids)
        credit_rows = credit_rows.filter(credits_id__in=invoice_ids)
    for invoice_id, total in payment_rows.values_list("invoice_id").annotate(t=Sum("amount")):
        paid[invoice_id] = total
    for invoice_id, total in credit_rows.values_list("credits_id").annotate(t=Sum("payable")):
        credited[invoice_id] = -total  # a credit note's amounts are negative
    keys = set(paid) | set(credited)
    if invoice_ids is not None:
        keys |= set(invoice_ids)
    return {key: Settlement(paid[key], credited[key]) for key in keys}


def payment_fields(invoices: list[Invoice]) -> dict[int, dict[str, Any]]:
    """``paid``, ``open`` and ``payment_status`` for the invoices among ``invoices`` (issued,
    not internal); credit notes and internal documents get null."""
    wanted = [
        invoice.pk
        for invoice in invoices
        if invoice.kind == Invoice.Kind.INVOICE and invoice.status == Invoice.Status.ISSUED
    ]
    known = settlements(wanted) if wanted else {}
    fields: dict[int, dict[str, Any]] = {}
    for invoice in invoices:
        settled = known.get(invoice.pk)
        if settled is None:
            fields[invoice.pk] = {"paid": None, "open": None, "payment_status": None}
            continue
        fields[invoice.pk] = {
            "paid": _money(settled.paid),
            "open": _money(settled.open(invoice.payable)),
            "payment_status": status_of(invoice.payable, settled.paid, settled.credited),
        }
    return fields


def with_payment_fields(
    items: list[dict[str, Any]], invoices: list[Invoice]
) -> list[dict[str, Any]]:
    fields = payment_fields(invoices)
    for item, invoice in zip(items, invoices, strict=True):
        item.update(fields[invoice.pk])
    return items


@dataclass
class Receivables:
    at: dt.date
    items: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    ageing: dict[str, Decimal]
    total_open: Decimal
    credit_balance: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "total_open": _money(self.total_open),
            "credit_balance": _money(self.credit_balance),
            "items": self.items,
            "customers": self.customers,
            "ageing": {key: _money(value) for key, value in self.ageing.items()},
        }


def receivables(
    *,
    at: dt.date | None = None,
    orgnr: str | None = None,
    overdue_only: bool = False,
    every_item: bool = False,
) -> Receivables:
    """Open items at ``at`` (default today): one per issued invoice or credit note; by default
    only those not settled, with ``orgnr`` or ``every_item`` all of them."""
    day = at or timezone.localdate()
    documents = Invoice.objects.filter(
        status=Invoice.Status.ISSUED,
        kind__in=(Invoice.Kind.INVOICE, Invoice.Kind.CREDIT_NOTE),
        issue_date__lte=day,
    )
    # Customers, accounts and numbers are read on their own and joined here: one scan of the
    # invoices, with no join plan that could go wrong on stale statistics (bench/payments.py).
    orgnrs = dict(Customer.objects.values_list("pk", "orgnr"))
    names = dict(Customer.objects.values_list("pk", "name"))
    accounts = dict(BillingAccount.objects.values_list("pk", "code"))
    if orgnr:
        wanted = orgnr.replace("-", "").replace(" ", "")
        documents = documents.filter(
            customer_id__in=[pk for pk, number in orgnrs.items() if number == wanted]
        )
    raw = list(
        documents.values_list(
            "pk",
            "number",
            "kind",
            "customer_id",
            "account_id",
            "issue_date",
            "due_date",
            "payable",
            "credits_id",
        )
    )
    numbers = {row[0]: row[1] for row in raw}
    missing = {row[8] for row in raw if row[8] and row[8] not in numbers}
    if missing:
        numbers.update(Invoice.objects.filter(pk__in=missing).values_list("pk", "number"))
    raw.sort(key=lambda row: row[1] or 0)
    rows = [
        (pk, number, kind, orgnrs[customer], names[customer], accounts[account], issued, due,
         payable, numbers.get(credits) if credits else None)
        for pk, number, kind, customer, account, issued, due, payable, credits in raw
    ]  # fmt: skip
    known = settlements(None, day)
    items: list[dict[str, Any]] = []
    per_customer: dict[str, dict[str, Any]] = {}
    ageing = dict.fromkeys(AGEING, ZERO)
    total_open = credit_balance = ZERO
    for pk, number, kind, customer, name, account, issued, due, payable, credits in rows:
        customer_row = per_customer.setdefault(
            customer,
            {"orgnr": customer, "name": name, "open": ZERO, "overdue": ZERO,
             "credit_balance": ZERO},
        )  # fmt: skip
        if kind == Invoice.Kind.CREDIT_NOTE:
            # A credit note settles its invoice (counted there as ``credited``); it is listed
            # for the record, with nothing open of its own.
            paid, credited, open_amount, status, days = ZERO, ZERO, ZERO, "credited", 0
        else:
            settled = known.get(pk, Settlement(ZERO, ZERO))
            paid, credited = settled.paid, settled.credited
            open_amount = payable - paid - credited
            status = status_of(payable, paid, credited)
            days = max((day - due).days, 0) if open_amount > 0 and due else 0
            customer_row["open"] += open_amount
            total_open += open_amount
            if open_amount < 0:
                customer_row["credit_balance"] -= open_amount
                credit_balance -= open_amount
            elif open_amount > 0:
                ageing[ageing_bucket(days)] += open_amount
                if days > 0:
                    customer_row["overdue"] += open_amount
        if overdue_only and days <= 0:
            continue
        if not (orgnr or every_item or overdue_only) and open_amount == 0:
            continue
        items.append(
            {
                "number": str(number),
                "type": kind,
                "credits": str(credits) if credits else None,
                "orgnr": customer,
                "customer_name": name,
                "account_code": account,
                "issue_date": issued.isoformat() if issued else None,
                "due_date": due.isoformat() if due else None,
                "payable": _money(payable),
                "paid": _money(paid),
                "credited": _money(credited),
                "open": _money(open_amount),
                "status": status,
                "overdue": days > 0,
                "days_overdue": days,
            }
        )
    customers = [
        {
            "orgnr": row["orgnr"],
            "name": row["name"],
            "open": _money(row["open"]),
            "overdue": _money(row["overdue"]),
            "credit_balance": _money(row["credit_balance"]),
        }
        for row in sorted(per_customer.values(), key=lambda row: row["orgnr"])
        if row["open"] != 0 or orgnr or every_item
    ]
    return Receivables(day, items, customers, ageing, total_open, credit_balance)
