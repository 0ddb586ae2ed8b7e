"""Reminders of overdue invoices (R23): ``kortfaktura remind`` and the schedule's daily step.

An issued invoice still open ``REMINDER_DAYS`` days after its due date gets one reminder – through
its account's e-mail, else print (Peppol has no reminder document) – with the open amount, the
same OCR number, the bankgiro and a new due date ``REMINDER_DUE_DAYS`` later. With more steps
(``REMINDER_STEPS``) the next one follows ``REMINDER_DAYS`` after the previous reminder's new due
date. Never for a disputed invoice (the buyer's Invoice Response rejected it or asked a question),
one with an order change waiting for a decision, or an internal charge (never selected). No
reminder fee and no late-payment interest: the customers are public bodies (R23's default; the
fee and interest that R23 allows when switched on are not built).

Exactly once: a reminder is a row unique per (invoice, step), created ``queued`` and committed
``sending`` before anything leaves; an e-mail whose server did not answer after the whole
message is ``uncertain`` and never sent again by itself; a print file is written whole under a
temporary name and then given its name.
"""

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

import typst
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.delivery.channels import postal_address, send_mail
from kortfaktura.delivery.models import Delivery
from kortfaktura.delivery.transport import MaybeSent, TransportError
from kortfaktura.documents.pdf import FONTS, fonts
from kortfaktura.orders.models import OrderChange
from kortfaktura.payments.models import Reminder
from kortfaktura.payments.selectors import Settlement, settlements

TEMPLATE = Path(__file__).parent / "templates" / "reminder.typ"
# The buyer's Invoice Response (Peppol, R20) that disputes the invoice.
DISPUTING = ("rejected", "under_query")


class ReminderError(Exception):
    """A refusal a person can act on, in Swedish."""


@dataclass
class Candidate:
    invoice: Invoice
    step: int
    open_amount: Decimal
    due_date: dt.date
    channel: str
    recipient: str


@dataclass
class RemindResult:
    at: dt.date
    dry_run: bool
    reminders: list[Reminder] = field(default_factory=list)
    planned: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[Reminder]:
        return [r for r in self.reminders if r.status == Reminder.Status.FAILED]

    def as_json(self) -> dict[str, Any]:
        rows = [
            (r.invoice.number, r.invoice.customer.orgnr, r.open_amount, r.due_date, r.channel,
             r.step, r.status)
            for r in self.reminders
        ] if not self.dry_run else [
            (c.invoice.number, c.invoice.customer.orgnr, c.open_amount, c.due_date, c.channel,
             c.step, "planned")
            for c in self.planned
        ]  # fmt: skip
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "reminders": [
                {
                    "number": number,
                    "orgnr": orgnr,
                    "open": f"{amount:.2f}",
                    "due_date": due.isoformat(),
                    "channel": channel,
                    "step": step,
                    "status": status,
                }
                for number, orgnr, amount, due, channel, step, status in rows
            ],
            "skipped": [{"number": number, "reason": reason} for number, reason in self.skipped],
        }


def _route(invoice: Invoice) -> tuple[str, str]:
    account = invoice.account
    if account.email:
        return "email", account.email
    return "print", postal_address(invoice.buyer or {})


def plan(at: dt.date) -> tuple[list[Candidate], list[tuple[int, str]]]:
    """The reminders due at ``at`` and the overdue invoices that get none, with the reason."""
    days = dt.timedelta(days=settings.REMINDER_DAYS)
    overdue = list(
        Invoice.objects.select_related("account", "customer")
        .filter(
            status=Invoice.Status.ISSUED,
            kind=Invoice.Kind.INVOICE,
            due_date__lte=at - days,
        )
        .order_by("number")
    )
    if not overdue:
        return [], []
    settled = settlements([invoice.pk for invoice in overdue], at)
    earlier: dict[int, list[Reminder]] = {}
    for reminder in Reminder.objects.filter(invoice__in=overdue).order_by("step"):
        earlier.setdefault(reminder.invoice_id, []).append(reminder)
    disputed = set(
        Delivery.objects.filter(invoice__in=overdue, response_status__in=DISPUTING).values_list(
            "invoice_id", flat=True
        )
    )
    waiting = set(
        InvoiceItem.objects.filter(
            invoice__in=overdue, credited=False, order__changes__status=OrderChange.Status.PENDING
        ).values_list("invoice_id", flat=True)
    )
    due: list[Candidate] = []
    skipped: list[tuple[int, str]] = []
    for invoice in overdue:
        assert invoice.number is not None and invoice.due_date is not None
        open_amount = settled[invoice.pk].open(invoice.payable)
        if open_amount <= 0:
            continue
        sent = earlier.get(invoice.pk, [])
        if len(sent) >= settings.REMINDER_STEPS:
            continue  # every step has been taken; what follows is a person's decision
        if sent and at < sent[-1].due_date + days:
            continue  # the last reminder's new due date has not passed long enough
        if invoice.pk in disputed:
            skipped.append((invoice.number, "köparen har invänt mot fakturan (fakturasvar)"))
            continue
        if invoice.pk in waiting:
            skipped.append((invoice.number, "en ändring av en beställning väntar på beslut"))
            continue
        channel, recipient = _route(invoice)
        due.append(
            Candidate(
                invoice, len(sent) + 1, open_amount,
                at + dt.timedelta(days=settings.REMINDER_DUE_DAYS), channel, recipient,
            )
        )  # fmt: skip
    return due, skipped


def remind(at: dt.date | None = None, *, dry_run: bool = False) -> RemindResult:
    """Queues the reminders due at ``at`` (default today), then sends every queued one."""
    day = at or timezone.localdate()
    result = RemindResult(day, dry_run)
    due, result.skipped = plan(day)
    if dry_run:
        result.planned = due
        return result
    actor = current_actor()
    rows = [
        Reminder(
            invoice=candidate.invoice, step=candidate.step, reminded_on=day,
            open_amount=candidate.open_amount, due_date=candidate.due_date,
            channel=candidate.channel, recipient=candidate.recipient[:300], created_by=actor,
        )
        for candidate in due
    ]  # fmt: skip
    try:
        _queue(rows)
    except IntegrityError:  # another process made some of these steps meanwhile
        for row in rows:
            try:
                _queue([row])
            except IntegrityError:
                continue
    queued = list(
        Reminder.objects.select_related("invoice", "invoice__customer")
        .filter(status__in=(Reminder.Status.QUEUED, Reminder.Status.FAILED))
        .order_by("id")
    )
    settled = settlements([reminder.invoice_id for reminder in queued], day)
    for reminder in queued:
        if settled[reminder.invoice_id].open(reminder.invoice.payable) <= 0:
            continue  # paid or credited since it was queued (a failed one waits): not sent
        sent = _send(reminder, settled[reminder.invoice_id])
        if sent is not None:
            result.reminders.append(sent)
    return result


def _queue(rows: list[Reminder]) -> None:
    with transaction.atomic():
        for row in Reminder.objects.bulk_create(rows):
            record(
                "reminder.queued",
                f"faktura {row.invoice.number}",
                {"step": row.step, "open": f"{row.open_amount:.2f}", "due_date": row.due_date,
                 "channel": row.channel},
            )  # fmt: skip


def _send(reminder: Reminder, settled: Settlement) -> Reminder | None:
    with transaction.atomic():
        claimed = Reminder.objects.filter(
            pk=reminder.pk, status__in=(Reminder.Status.QUEUED, Reminder.Status.FAILED)
        ).update(status=Reminder.Status.SENDING, attempts=reminder.attempts + 1)
    if not claimed:
        return None  # another process sends it
    reminder.status = Reminder.Status.SENDING
    reminder.attempts += 1
    try:
        pdf = render(reminder, settled)
        if reminder.channel == "email":
            reminder.reference = _mail(reminder, pdf)
        else:
            reminder.reference = _print(reminder, pdf)
    except MaybeSent as error:
        reminder.status = Reminder.Status.UNCERTAIN
        reminder.error = (
            f"{error.message} – se efter i e-postservern om påminnelsen kom fram; den skickas "
            "inte igen av sig själv"
        )
    except (TransportError, ReminderError) as error:
        reminder.status = Reminder.Status.FAILED
        reminder.error = error.message if isinstance(error, TransportError) else str(error)
    else:
        reminder.status, reminder.error = Reminder.Status.SENT, ""
    with transaction.atomic():
        reminder.save(update_fields=["status", "error", "reference", "attempts", "updated_at"])
        record(
            f"reminder.{reminder.status}",
            f"faktura {reminder.invoice.number}",
            {"step": reminder.step, "channel": reminder.channel, "recipient": reminder.recipient,
             "reference": reminder.reference, "error": reminder.error},
        )  # fmt: skip
    return reminder


def _title(reminder: Reminder) -> str:
    return f"Påminnelse: faktura {reminder.invoice.number}"


def _mail(reminder: Reminder, pdf: bytes) -> str:
    if not settings.SMTP_URL or not settings.MAIL_FROM:
        raise ReminderError(
            "påminnelser med e-post kräver KORTFAKTURA_SMTP_URL och KORTFAKTURA_MAIL_FROM – ange "
            "dem (se docs/operations.md, Leverans) och kör kortfaktura remind igen"
        )
    invoice = reminder.invoice
    message = EmailMessage()
    message["Subject"] = f"{_title(reminder)} – {swedish.money(reminder.open_amount)}"
    message["From"] = settings.MAIL_FROM
    message["To"] = reminder.recipient
    message["Date"] = formatdate(localtime=True)
    identifier = make_msgid(domain=settings.MAIL_FROM.rpartition("@")[2] or None)
    message["Message-ID"] = identifier
    message.set_content(
        f"Hej!\n\nVi har ännu inte fått full betalning för faktura {invoice.number}. Öppet belopp: "
        f"{swedish.money(reminder.open_amount)}. Betala senast {reminder.due_date.isoformat()} "
        f"till bankgiro {settings.SELLER['bankgiro']} med OCR-nummer {invoice.ocr}.\n\n"
        "Har du nyligen betalat kan du bortse från påminnelsen. Påminnelsen finns som PDF i "
        "bilagan.\n\nMed vänlig hälsning\n"
        f"{settings.SELLER['name']}, {settings.SELLER['department']}\n"
    )
    message.add_attachment(
        pdf, maintype="application", subtype="pdf",
        filename=f"paminnelse-{invoice.number}-{reminder.step}.pdf",
    )  # fmt: skip
    send_mail(message, [reminder.recipient])
    return identifier


def _print(reminder: Reminder, pdf: bytes) -> str:
    if not settings.PRINT_DIR:
        raise ReminderError(
            "påminnelser på papper kräver KORTFAKTURA_PRINT_DIR – ange katalogen och kör "
            "kortfaktura remind igen"
        )
    folder = Path(settings.PRINT_DIR)
    target = folder / f"paminnelse-{reminder.invoice.number}-{reminder.step}.pdf"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".paminnelse-", suffix=".tmp", dir=folder)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pdf)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as error:
        raise TransportError(
            f"kunde inte skriva {target}: {error.strerror or error}", transient=True
        ) from None
    return str(target)


@cache
def _compiler() -> typst.Compiler:
    return typst.Compiler(
        input=str(TEMPLATE), root=str(TEMPLATE.parent), font_paths=fonts(),
        ignore_system_fonts=True,
    )  # fmt: skip


def render(reminder: Reminder, settled: Settlement) -> bytes:
    """The reminder as a PDF (PDF/A-2b, the invoices' fonts); ``settled``: what the invoice had
    been paid and credited on the reminder's day."""
    invoice = reminder.invoice
    buyer = invoice.buyer or {}
    lines = postal_address(buyer).splitlines()
    data = {
        "title": _title(reminder),
        "fonts": list(FONTS),
        "seller": settings.SELLER,
        "buyer": {"name": lines[0] if lines else "", "address": lines[1:]},
        "step": reminder.step,
        "number": str(invoice.number),
        "ocr": invoice.ocr,
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else "",
        "original_due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "reminded_on": reminder.reminded_on.isoformat(),
        "due_date": reminder.due_date.isoformat(),
        "payable": swedish.money(invoice.payable),
        "paid": swedish.money(settled.paid),
        "credited": swedish.money(settled.credited),
        "open": swedish.money(reminder.open_amount),
    }
    moment = dt.datetime.combine(reminder.reminded_on, dt.time(12), tzinfo=dt.UTC)
    try:
        pdf = _compiler().compile(
            format="pdf",
            sys_inputs={"data": json.dumps(data, ensure_ascii=False, default=str)},
            pdf_standards=["a-2b"],
            timestamp=int(moment.timestamp()),
        )
    except typst.TypstError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ReminderError(f"påminnelsens PDF kunde inte sättas: {first[:300]}") from error
    assert isinstance(pdf, bytes)
    return pdf
