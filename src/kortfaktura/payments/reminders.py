"""Reminders of overdue invoices (R23): ``kortfaktura remind`` and the schedule's daily step.

An issued invoice still open ``REMINDER_DAYS`` days after its due date gets one reminder – through
its account's e-mail, else print (Peppol has no reminder document) – with the open amount, the
same OCR number, the bankgiro and a new due date ``REMINDER_DUE_DAYS`` later. With more steps
(``REMINDER_STEPS``) the next one follows ``REMINDER_DAYS`` after the previous reminder's new due
date. Never for a disputed invoice (the buyer's Invoice Response rejected it or asked a question,
or a person marked it disputed), one with an order change waiting for a decision, or an internal
charge (never selected). No reminder fee and no late-payment interest by default: the customers
are public bodies. Where switched on (``REMINDER_FEE``, ``LATE_INTEREST``) they are shown on the
reminder, stored with it, and never added to an invoice: a person bills them, if at all.

Exactly once: a reminder is a row unique per (invoice, step), created ``queued`` and committed
``sending`` before anything leaves; an e-mail whose server did not answer after the whole
message is ``uncertain`` and never sent again by itself; a print file is written whole under a
temporary name and then given its name.
"""

import datetime as dt
import json
import multiprocessing
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

import typst
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record, record_many
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.delivery.channels import MailSession, postal_address, wire_bytes
from kortfaktura.delivery.models import Delivery
from kortfaktura.delivery.transport import MaybeSent, TransportError
from kortfaktura.documents.pdf import FONTS, fonts
from kortfaktura.documents.workers import start as workers_start
from kortfaktura.orders.models import OrderChange
from kortfaktura.payments.models import Dispute, Reminder
from kortfaktura.payments.selectors import Settlement, settlements

TEMPLATE = Path(__file__).parent / "templates" / "reminder.typ"
# The buyer's Invoice Response (Peppol, R20) that disputes the invoice.
DISPUTING = ("rejected", "under_query")
CHUNK = 25  # reminders claimed, sent and recorded together
PARALLEL_FROM = 100  # reminders; below that, starting processes costs more than it saves
IN_FLIGHT_PER_WORKER = 3
# A reminder ``sending`` this long was left by a process that died (a chunk takes seconds).
STALE_SENDING = dt.timedelta(minutes=15)
# A chunk stops sending after this long, so that it is recorded well before it looks stale
# (one message can take a few SMTP timeouts more).
CHUNK_DEADLINE = 8 * 60.0


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
    fee: Decimal = Decimal("0.00")
    interest: Decimal = Decimal("0.00")
    interest_rate: Decimal | None = None


def _half_year_end(day: dt.date) -> dt.date:
    """The first day after the half-year ``day`` is in (1 July or 1 January)."""
    return dt.date(day.year, 7, 1) if day.month < 7 else dt.date(day.year + 1, 1, 1)


def rate_periods(due: dt.date, at: dt.date) -> list[tuple[dt.date, dt.date, Decimal]]:
    """(first day, day after the last, reference rate) covering each day from ``due`` up to
    ``at``: a dated rate holds from its day to the next one, but never past its half-year
    (räntelagen 9 §: each half-year has its own). ``ReminderError`` naming the first day
    without one, for a person to add – never a guess."""
    rates = settings.REFERENCE_RATES
    if len(rates) == 1 and rates[0][0] == dt.date.min:
        return [(due, at, rates[0][1])] if at > due else []
    periods = []
    day = due
    for index, (starts, rate) in enumerate(rates):
        ends = min(
            rates[index + 1][0] if index + 1 < len(rates) else dt.date.max, _half_year_end(starts)
        )
        if ends <= day or starts >= at:
            continue
        if starts > day:
            break  # a gap before this rate
        periods.append((day, min(ends, at), rate))
        day = min(ends, at)
    if day < at:
        raise ReminderError(
            f"dröjsmålsräntan kan inte räknas: KORTFAKTURA_REFERENCE_RATE har ingen "
            f"referensränta för {day.isoformat()} – lägg till räntan från varje halvårsskifte, "
            f"t.ex. {settings.REFERENCE_RATE_EXAMPLE}"
        )
    return periods


def late_interest(open_amount: Decimal, due: dt.date, at: dt.date) -> tuple[Decimal, Decimal]:
    """(rate in percent of the last day counted, interest in kronor) on ``open_amount`` for each
    day from the due date up to ``at`` (räntelagen 6 and 9 §§: the reference rate in force
    that day + 8 percentage points, a year of 365 days), rounded to öre; nothing when interest
    is off. ``ReminderError`` when a day has no reference rate."""
    if not settings.LATE_INTEREST:
        return Decimal("0"), Decimal("0.00")
    periods = rate_periods(due, at)
    total = sum(
        (open_amount * (rate + 8) / 100 * (ends - starts).days / 365
         for starts, ends, rate in periods),
        Decimal(0),
    )  # fmt: skip
    last = periods[-1][2] if periods else settings.REFERENCE_RATES[-1][1]
    return last + 8, max(Decimal("0.00"), total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def interest_words(reminder: Reminder) -> str:
    """How the reminder names its interest rate: one rate over the whole time, or the rule."""
    due = reminder.invoice.due_date
    assert due is not None and reminder.interest_rate is not None
    try:
        used = {rate for _, _, rate in rate_periods(due, reminder.reminded_on)}
    except ReminderError:
        used = set()
    if len(used) <= 1:
        return f"{swedish.money(reminder.interest_rate, currency=False)} % per år"
    return "referensräntan för varje halvår + 8 procentenheter"


@dataclass
class RemindResult:
    at: dt.date
    dry_run: bool
    reminders: list[Reminder] = field(default_factory=list)
    planned: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """What would stop the planned reminders of a dry run (a setting that is missing)."""
        if not self.dry_run:
            return []
        said = []
        mailed = sum(1 for c in self.planned if c.channel == "email")
        printed = len(self.planned) - mailed
        if mailed and (not settings.SMTP_URL or not settings.MAIL_FROM):
            said.append(
                f"{mailed} påminnelser med e-post skulle misslyckas: KORTFAKTURA_SMTP_URL och "
                "KORTFAKTURA_MAIL_FROM behövs"
            )
        if printed and not settings.PRINT_DIR:
            said.append(
                f"{printed} påminnelser på papper skulle misslyckas: KORTFAKTURA_PRINT_DIR behövs"
            )
        return said

    @property
    def failed(self) -> list[Reminder]:
        return [r for r in self.reminders if r.status == Reminder.Status.FAILED]

    def as_json(self) -> dict[str, Any]:
        rows: list[Reminder | Candidate] = list(self.planned if self.dry_run else self.reminders)
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "reminders": [
                {
                    "number": str(row.invoice.number),
                    "orgnr": row.invoice.customer.orgnr,
                    "open": f"{row.open_amount:.2f}",
                    "due_date": row.due_date.isoformat(),
                    "channel": row.channel,
                    "step": row.step,
                    "status": row.status if isinstance(row, Reminder) else "planned",
                    "fee": f"{row.fee:.2f}",
                    "interest": f"{row.interest:.2f}",
                }
                for row in rows
            ],
            "skipped": [
                {"number": str(number), "reason": reason} for number, reason in self.skipped
            ],
            "warnings": self.warnings,
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
    holds = held([invoice.pk for invoice in overdue])
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
        if (reason := holds.get(invoice.pk)) is not None:
            skipped.append((invoice.number, reason))
            continue
        channel, recipient = _route(invoice)
        try:
            rate, interest = late_interest(open_amount, invoice.due_date, at)
        except ReminderError as error:
            skipped.append((invoice.number, str(error)))
            continue
        due.append(
            Candidate(
                invoice, len(sent) + 1, open_amount,
                at + dt.timedelta(days=settings.REMINDER_DUE_DAYS), channel, recipient,
                fee=settings.REMINDER_FEE, interest=interest,
                interest_rate=rate if settings.LATE_INTEREST else None,
            )
        )  # fmt: skip
    return due, skipped


def held(invoice_ids: list[int]) -> dict[int, str]:
    """The invoices among ``invoice_ids`` that get no reminder now, with the reason (R23): a
    person marked it disputed, the buyer's Invoice Response disputes it, or a change of one of
    its orders waits for a decision."""
    reasons: dict[int, str] = {}
    for invoice_id in InvoiceItem.objects.filter(
        invoice__in=invoice_ids, credited=False, order__changes__status=OrderChange.Status.PENDING
    ).values_list("invoice_id", flat=True):
        reasons[invoice_id] = "en ändring av en beställning väntar på beslut"
    for invoice_id in Delivery.objects.filter(
        invoice__in=invoice_ids, response_status__in=DISPUTING
    ).values_list("invoice_id", flat=True):
        reasons[invoice_id] = "köparen har invänt mot fakturan (fakturasvar)"
    for dispute in Dispute.objects.filter(invoice__in=invoice_ids, closed_at__isnull=True):
        reasons[dispute.invoice_id] = (
            f"markerad som bestridd av {dispute.opened_by}: {dispute.reason}"
        )
    return reasons


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
            fee=candidate.fee, interest=candidate.interest,
            interest_rate=candidate.interest_rate,
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
    result.reminders.extend(_recover())
    queued = list(
        Reminder.objects.select_related("invoice", "invoice__customer")
        .filter(status__in=(Reminder.Status.QUEUED, Reminder.Status.FAILED))
        .order_by("id")
    )
    settled = settlements([reminder.invoice_id for reminder in queued], day)
    holds = held([reminder.invoice_id for reminder in queued])
    said = {number for number, _ in result.skipped}
    due_now = []
    for reminder in queued:
        open_amount = settled[reminder.invoice_id].open(reminder.invoice.payable)
        if open_amount <= 0:
            continue  # paid or credited since it was queued (a failed one waits): not sent
        if (reason := holds.get(reminder.invoice_id)) is not None:
            # Disputed, or a change waits, since it was queued: it waits too, and is said.
            number = reminder.invoice.number or 0  # issued: always numbered
            if number not in said:
                result.skipped.append((number, reason))
            continue
        try:
            _as_of(reminder, day, open_amount)
        except ReminderError as refusal:
            result.skipped.append((reminder.invoice.number or 0, str(refusal)))
            continue
        due_now.append(reminder)
    sent, waiting = _send(due_now, settled, day)
    result.reminders.extend(sent)
    result.skipped.extend(waiting)
    return result


def _send(
    due_now: list[Reminder], settled: dict[int, Settlement], day: dt.date
) -> tuple[list[Reminder], list[tuple[int, str]]]:
    """The reminders composed chunk by chunk, each chunk looked at again (a dispute or a
    payment may have come while the run went on), claimed, sent and recorded; the sent ones and
    those that now wait, with the reason."""
    done: list[Reminder] = []
    waiting: list[tuple[int, str]] = []
    by_pk = {reminder.pk: reminder for reminder in due_now}
    letters = [_letter(reminder, settled[reminder.invoice_id]) for reminder in due_now]
    message_ids = {letter.pk: letter.mail["message_id"] for letter in letters if letter.mail}
    with MailSession() as session:
        for chunk in _rendered(letters):
            still = _still_due([by_pk[pk] for pk, _, _ in chunk], day, waiting)
            claimed = _claim([pk for pk, _, _ in chunk if pk in still])
            began = time.monotonic()
            sent = []
            for pk, content, error in chunk:
                if pk not in claimed:
                    continue
                if time.monotonic() - began > CHUNK_DEADLINE:
                    # A slow server: the rest wait for the next run rather than stay claimed
                    # long enough to look abandoned (STALE_SENDING).
                    late = "e-postservern var för långsam; påminnelsen försöks igen nästa körning"
                    sent.append(_deliver(by_pk[pk], b"", late, "", session))
                    continue
                sent.append(_deliver(by_pk[pk], content, error, message_ids.get(pk, ""), session))
            _record_outcomes(sent)
            done.extend(sent)
    return done, waiting


def _still_due(reminders: list[Reminder], day: dt.date, waiting: list[tuple[int, str]]) -> set[int]:
    """The reminders of a chunk that may still go as composed: not disputed or held since the
    run began, and their open amount unchanged (a payment or a credit note meanwhile: the
    reminder waits for the next run, which says the new amount)."""
    invoice_ids = [reminder.invoice_id for reminder in reminders]
    holds = held(invoice_ids)
    now = settlements(invoice_ids, day)
    fine = set()
    for reminder in reminders:
        number = reminder.invoice.number or 0
        if (reason := holds.get(reminder.invoice_id)) is not None:
            waiting.append((number, reason))
        elif now[reminder.invoice_id].open(reminder.invoice.payable) != reminder.open_amount:
            waiting.append(
                (number, "betalad eller krediterad under körningen; påminns med det nya "
                         "öppna beloppet vid nästa körning om något är kvar")
            )  # fmt: skip
        else:
            fine.add(reminder.pk)
    return fine


def _as_of(reminder: Reminder, day: dt.date, open_amount: Decimal) -> None:
    """A reminder says what is open on the day it is sent, with a new due date from that day:
    one that failed earlier and goes now does not carry the figures of the day it was queued."""
    assert reminder.invoice.due_date is not None
    reminder.reminded_on = day
    reminder.open_amount = open_amount
    reminder.due_date = day + dt.timedelta(days=settings.REMINDER_DUE_DAYS)
    reminder.fee = settings.REMINDER_FEE
    rate, reminder.interest = late_interest(open_amount, reminder.invoice.due_date, day)
    reminder.interest_rate = rate if settings.LATE_INTEREST else None


def _queue(rows: list[Reminder]) -> None:
    with transaction.atomic():
        record_many(
            ("reminder.queued", f"faktura {row.invoice.number}",
             {"step": row.step, "open": f"{row.open_amount:.2f}", "due_date": row.due_date,
              "channel": row.channel})
            for row in Reminder.objects.bulk_create(rows)
        )  # fmt: skip


def _recover() -> list[Reminder]:
    """Reminders a process left ``sending`` (it died between claiming and recording): a print
    file that is there was written whole, so it is sent, and one that is not is tried again;
    an e-mail may have left, so it is ``uncertain`` and a person looks (never sent twice)."""
    stale = timezone.now() - STALE_SENDING
    settled: list[Reminder] = []
    with transaction.atomic():
        rows = Reminder.objects.select_related("invoice", "invoice__customer").filter(
            status=Reminder.Status.SENDING, updated_at__lt=stale
        )
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        for reminder in rows:
            if reminder.channel == "print":
                target = _print_target(reminder)
                if target is not None and target.exists():
                    reminder.status, reminder.reference, reminder.error = (
                        Reminder.Status.SENT, str(target), ""
                    )  # fmt: skip
                else:
                    reminder.status = Reminder.Status.FAILED
                    reminder.error = "avbröts innan utskriftsfilen skrevs – skrivs vid nästa försök"
            else:
                reminder.status = Reminder.Status.UNCERTAIN
                reminder.error = (
                    "sändningen avbröts – se efter i e-postservern om påminnelsen kom fram; den "
                    "skickas inte igen av sig själv"
                )
            reminder.save(update_fields=["status", "error", "reference", "updated_at"])
            record(
                f"reminder.{reminder.status}",
                f"faktura {reminder.invoice.number}",
                {"step": reminder.step, "channel": reminder.channel, "recovered": True,
                 "reference": reminder.reference, "error": reminder.error},
            )  # fmt: skip
            settled.append(reminder)
    return settled


@dataclass(frozen=True)
class Letter:
    """What a worker process needs to put one reminder together: the PDF's data and, for
    e-mail, the message around it."""

    pk: int
    data: dict[str, Any]
    mail: dict[str, str] | None


def _letter(reminder: Reminder, settled: Settlement) -> Letter:
    if reminder.channel != "email" or not settings.SMTP_URL or not settings.MAIL_FROM:
        return Letter(reminder.pk, _data(reminder, settled), None)
    invoice = reminder.invoice
    body = (
        f"Hej!\n\nVi har ännu inte fått full betalning för faktura {invoice.number}. Öppet belopp: "
        f"{swedish.money(reminder.open_amount)}. Betala senast {reminder.due_date.isoformat()} "
        f"till bankgiro {settings.SELLER['bankgiro']} med OCR-nummer {invoice.ocr}.\n\n"
        f"{_extra_text(reminder)}"
        "Har du nyligen betalat kan du bortse från påminnelsen. Påminnelsen finns som PDF i "
        "bilagan.\n\nMed vänlig hälsning\n"
        f"{settings.SELLER['name']}, {settings.SELLER['department']}\n"
    )
    mail = {
        "subject": f"{_title(reminder)} – {swedish.money(reminder.open_amount)}",
        "from": settings.MAIL_FROM,
        "to": reminder.recipient,
        "message_id": make_msgid(domain=settings.MAIL_FROM.rpartition("@")[2] or None),
        "body": body,
        "filename": f"paminnelse-{invoice.number}-{reminder.step}.pdf",
    }
    return Letter(reminder.pk, _data(reminder, settled), mail)


def _extra_text(reminder: Reminder) -> str:
    parts = []
    if reminder.fee:
        parts.append(f"påminnelseavgift {swedish.money(reminder.fee)}")
    if reminder.interest_rate is not None:
        parts.append(
            f"dröjsmålsränta {swedish.money(reminder.interest)} "
            f"({interest_words(reminder)} från förfallodagen)"
        )
    if not parts:
        return ""
    return (
        f"Dessutom: {' och '.join(parts)}. De ingår inte i det öppna beloppet, ska inte betalas "
        "med fakturans OCR-nummer och faktureras separat.\n\n"
    )


def compose(letters: list[Letter]) -> list[tuple[int, bytes, str]]:
    """(pk, content, error) per letter: the e-mail as the bytes an SMTP server receives, or the
    print PDF; empty content and the reason when the PDF could not be made. Runs in a worker
    process too (no database)."""
    composed: list[tuple[int, bytes, str]] = []
    for letter in letters:
        try:
            pdf = _pdf(letter.data)
        except ReminderError as error:
            composed.append((letter.pk, b"", str(error)))
            continue
        if letter.mail is None:
            composed.append((letter.pk, pdf, ""))
            continue
        mail = letter.mail
        message = EmailMessage()
        message["Subject"] = mail["subject"]
        message["From"] = mail["from"]
        message["To"] = mail["to"]
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = mail["message_id"]
        message.set_content(mail["body"])
        message.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=mail["filename"]
        )
        composed.append((letter.pk, wire_bytes(message), ""))
    return composed


def _chunked(letters: list[Letter]) -> Iterator[list[Letter]]:
    for start in range(0, len(letters), CHUNK):
        yield letters[start : start + CHUNK]


def _rendered(letters: list[Letter]) -> Iterator[list[tuple[int, bytes, str]]]:
    """The letters composed chunk by chunk, in worker processes when there are many: while
    this process sends one chunk, the workers set the next ones."""
    workers = settings.DOCUMENT_WORKERS
    if workers <= 1 or len(letters) < PARALLEL_FROM:
        for chunk in _chunked(letters):
            yield compose(chunk)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=workers_start) as pool:
        waiting: deque[Future[list[tuple[int, bytes, str]]]] = deque()
        for chunk in _chunked(letters):
            waiting.append(pool.submit(compose, chunk))
            while len(waiting) > IN_FLIGHT_PER_WORKER * workers:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


def _claim(pks: list[int]) -> set[int]:
    """The reminders still to send among ``pks``, committed ``sending`` in one transaction
    before anything leaves; one another process holds is left to it."""
    with transaction.atomic():
        rows = Reminder.objects.filter(
            pk__in=pks, status__in=(Reminder.Status.QUEUED, Reminder.Status.FAILED)
        ).order_by()
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        claimed = set(rows.values_list("pk", flat=True))
        Reminder.objects.filter(pk__in=claimed).update(
            status=Reminder.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    return claimed


def _deliver(
    reminder: Reminder, content: bytes, error: str, message_id: str, session: MailSession
) -> Reminder:
    reminder.status = Reminder.Status.SENDING
    reminder.attempts += 1
    try:
        if error:
            raise ReminderError(error)
        if reminder.channel == "email":
            reminder.reference = _mail(reminder, content, message_id, session)
        else:
            reminder.reference = _print(reminder, content)
    except MaybeSent as failure:
        reminder.status = Reminder.Status.UNCERTAIN
        reminder.error = (
            f"{failure.message} – se efter i e-postservern om påminnelsen kom fram; den skickas "
            "inte igen av sig själv"
        )
    except (TransportError, ReminderError) as failure:
        reminder.status = Reminder.Status.FAILED
        reminder.error = failure.message if isinstance(failure, TransportError) else str(failure)
    else:
        reminder.status, reminder.error = Reminder.Status.SENT, ""
    return reminder


def _record_outcomes(reminders: list[Reminder]) -> None:
    """The chunk's outcomes, with the figures each reminder was sent with, and their audit
    records in one transaction – only for rows still ``sending`` (a later run's recovery may
    have decided one meanwhile, and its decision stands)."""
    if not reminders:
        return
    ops = connection.ops
    changed = ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic():
        mine = Reminder.objects.filter(
            pk__in=[r.pk for r in reminders], status=Reminder.Status.SENDING
        )
        if connection.features.has_select_for_update:
            mine = mine.select_for_update(of=("self",))
        still = set(mine.values_list("pk", flat=True))
        recorded = [r for r in reminders if r.pk in still]
        rows = [
            (r.status, r.error, r.reference[:300], r.attempts,
             ops.adapt_datefield_value(r.reminded_on), ops.adapt_decimalfield_value(r.open_amount),
             ops.adapt_datefield_value(r.due_date), ops.adapt_decimalfield_value(r.fee),
             ops.adapt_decimalfield_value(r.interest),
             None if r.interest_rate is None else ops.adapt_decimalfield_value(r.interest_rate),
             changed, r.pk)
            for r in recorded
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Reminder._meta.db_table} SET status = %s, error = %s, reference = %s, "
                "attempts = %s, reminded_on = %s, open_amount = %s, due_date = %s, fee = %s, "
                "interest = %s, interest_rate = %s, updated_at = %s WHERE id = %s",
                rows,
            )
        record_many(
            (f"reminder.{r.status}", f"faktura {r.invoice.number}",
             {"step": r.step, "channel": r.channel, "recipient": r.recipient,
              "open": f"{r.open_amount:.2f}", "due_date": r.due_date,
              "reference": r.reference, "error": r.error})
            for r in recorded
        )  # fmt: skip


def _title(reminder: Reminder) -> str:
    return f"Påminnelse: faktura {reminder.invoice.number}"


def _mail(reminder: Reminder, content: bytes, message_id: str, session: MailSession) -> str:
    if not settings.SMTP_URL or not settings.MAIL_FROM or not message_id:
        raise ReminderError(
            "påminnelser med e-post kräver KORTFAKTURA_SMTP_URL och KORTFAKTURA_MAIL_FROM – ange "
            "dem (se docs/operations.md, Leverans) och kör kortfaktura remind igen"
        )
    session.send(content, [reminder.recipient], message_id)
    return message_id


def _print_target(reminder: Reminder) -> Path | None:
    if not settings.PRINT_DIR:
        return None
    return Path(settings.PRINT_DIR) / f"paminnelse-{reminder.invoice.number}-{reminder.step}.pdf"


def _print(reminder: Reminder, pdf: bytes) -> str:
    target = _print_target(reminder)
    if target is None:
        raise ReminderError(
            "påminnelser på papper kräver KORTFAKTURA_PRINT_DIR – ange katalogen och kör "
            "kortfaktura remind igen"
        )
    folder = target.parent
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


def _data(reminder: Reminder, settled: Settlement) -> dict[str, Any]:
    invoice = reminder.invoice
    buyer = invoice.buyer or {}
    lines = postal_address(buyer).splitlines()
    return {
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
        "fee": swedish.money(reminder.fee) if reminder.fee else "",
        "interest": swedish.money(reminder.interest) if reminder.interest_rate is not None else "",
        "interest_rate": (interest_words(reminder) if reminder.interest_rate is not None else ""),
        "extra": swedish.money(reminder.fee + reminder.interest),
    }


def _pdf(data: dict[str, Any]) -> bytes:
    moment = dt.datetime.combine(
        dt.date.fromisoformat(data["reminded_on"]), dt.time(12), tzinfo=dt.UTC
    )
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
