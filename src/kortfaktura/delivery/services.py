"""Queueing and sending deliveries, exactly once per document and channel (DOMAIN.md R20).

Each delivery is claimed in a transaction of its own (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so that several workers share the queue), marked ``sending`` and committed before
anything leaves the system, and recorded ``sent`` or ``failed`` afterwards. A row found in
``sending`` at the start was interrupted: a Peppol hand-over is repeated (same file name, same
bytes: a no-op in the outbox); an e-mail or a print batch may have left and is marked
``uncertain`` for a person to decide — never sent again on its own.
"""

import datetime as dt
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.services import record
from kortfaktura.billing.models import Invoice
from kortfaktura.delivery.channels import (
    SENDERS,
    MissingSetting,
    PrintSender,
    Route,
    new_message_id,
    route,
)
from kortfaktura.delivery.inbox import ReceiptReport, read_receipts
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.delivery.transport import TransportError
from kortfaktura.documents.services import ExportError, select_documents

BACKOFF_START = 60  # seconds after the first failure; doubles with each attempt
BACKOFF_MAX = 6 * 3600
# PostgreSQL advisory lock namespace: a worker holds (SENDING_LOCK, delivery id) in its session
# while a row it claimed is ``sending``; the lock dies with the worker's connection, so a row in
# ``sending`` whose lock is free was left by a worker that stopped.
SENDING_LOCK = 2011

__all__ = ["DeliveryError", "MissingSetting"]


class DeliveryError(Exception):
    """The delivery cannot run (unknown documents, a bad setting); the message is Swedish."""


@dataclass
class DeliveryReport:
    delivered: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    skipped: int = 0
    dry_run: bool = False
    # With dry_run: what would be sent, as unsaved rows.
    planned: list[Delivery] = field(default_factory=list)
    receipts: ReceiptReport = field(default_factory=ReceiptReport)
    uncertain: int = 0  # deliveries that wait for a person (may or may not have left)
    # With skip_unconfigured: channel → (why it is not set up, documents left queued for it).
    unconfigured: dict[str, tuple[str, int]] = field(default_factory=dict)

    def unconfigured_text(self) -> str:
        """One Swedish sentence per channel left out, naming its setting; empty when none."""
        return " ".join(
            f"{channel_not_set_up(channel)}, så {swedish.counted(waiting, 'dokument', 'dokument')}"
            f" väntar kvar i kön: {reason}."
            for channel, (reason, waiting) in sorted(self.unconfigured.items())
        )


def channel_not_set_up(channel: str) -> str:
    """``E-post är inte inställd``."""
    label = str(Channel(channel).label)
    return f"{label[:1].upper()}{label[1:]} är inte inställd"


def as_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "number": str(delivery.invoice.number),
        "channel": delivery.channel,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "response_code": delivery.response_code,
        "response_status": delivery.response_status,
        "updated_at": delivery.updated_at.isoformat() if delivery.updated_at else None,
        "recipient": delivery.recipient,
        "resend_of": delivery.resend_of_id,
        "next_attempt_at": (
            delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None
        ),
    }


def _label(invoice: Invoice) -> str:
    return f"{invoice.get_kind_display()} {invoice.number}"


def _new_row(invoice: Invoice, where: Route, resend_of: Delivery | None = None) -> Delivery:
    return Delivery(
        invoice=invoice,
        channel=where.channel,
        recipient=where.recipient,
        instance_id=uuid.uuid4() if where.channel == Channel.PEPPOL else None,
        message_id=new_message_id() if where.channel == Channel.EMAIL else "",
        resend_of=resend_of,
    )


def queue_deliveries(invoices: Iterable[Invoice]) -> list[Delivery]:
    """A queued delivery for each issued document that has none in its channel; idempotent."""
    created = []
    for invoice in invoices:
        if invoice.status != Invoice.Status.ISSUED:
            continue
        where = route(invoice)
        if Delivery.objects.filter(
            invoice=invoice, channel=where.channel, resend_of__isnull=True
        ).exists():
            continue
        try:
            with transaction.atomic():
                row = _new_row(invoice, where)
                row.save()
                record(
                    "delivery.queued",
                    _label(invoice),
                    {"channel": row.channel, "recipient": row.recipient, "delivery": row.pk},
                )
        except IntegrityError:  # another worker queued it meanwhile
            continue
        created.append(row)
    return created


def _scope(invoices: list[Invoice] | None) -> QuerySet[Delivery]:
    rows = Delivery.objects.select_related("invoice", "invoice__credits")
    return rows if invoices is None else rows.filter(invoice__in=invoices)


def _due(rows: QuerySet[Delivery], now: dt.datetime, *, at_once: bool) -> QuerySet[Delivery]:
    failed = Q(status=Delivery.Status.FAILED)
    if not at_once:
        failed &= Q(next_attempt_at__lte=now)
    return rows.filter(Q(status=Delivery.Status.QUEUED) | failed)


def recover_interrupted(invoices: list[Invoice] | None = None) -> list[Delivery]:
    """Rows left in ``sending`` by a run that stopped: Peppol is queued again (repeating it is
    a no-op), e-mail and print become ``uncertain`` (they may have left)."""
    changed: list[Delivery] = []
    for row in _scope(invoices).filter(status=Delivery.Status.SENDING):
        if not _hold(row.pk):
            continue  # a live worker is sending it right now
        try:
            _recover_one(row.pk, changed)
        finally:
            _release(row.pk)
    return changed


def _recover_one(pk: int, changed: list[Delivery]) -> None:
    with transaction.atomic():
        locked = _lock(pk, Delivery.Status.SENDING)
        if locked is None:
            return  # finished meanwhile
        if locked.channel == Channel.PEPPOL:
            locked.status = Delivery.Status.QUEUED
            locked.save(update_fields=["status", "updated_at"])
            return
        locked.status = Delivery.Status.UNCERTAIN
        locked.error = (
            "avbröts under sändningen – kan ha nått mottagaren; kontrollera och skicka "
            f"igen med kortfaktura deliver --resend {locked.invoice.number} vid behov"
        )
        locked.save(update_fields=["status", "error", "updated_at"])
        record(
            "delivery.uncertain",
            _label(locked.invoice),
            {"channel": locked.channel, "delivery": locked.pk, "recipient": locked.recipient},
        )
        changed.append(locked)


def _hold(pk: int) -> bool:
    """Takes the session lock that marks a row as being sent by this worker (PostgreSQL);
    False when another live worker holds it. SQLite has one worker: always True."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SENDING_LOCK, pk])
        return bool(cursor.fetchone()[0])


def _release(pk: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SENDING_LOCK, pk])


def _pause_for_tests(step: str) -> None:
    """Fault injection for the crash and concurrency tests: wait
    ``KORTFAKTURA_TEST_PAUSE_IN_<STEP>`` seconds. Unset in normal use."""
    pause = os.environ.get(f"KORTFAKTURA_TEST_PAUSE_IN_{step}")
    if pause:
        sys.stderr.write(f"kortfaktura: testpaus i {step.lower()}\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def _lock(pk: int, *statuses: str) -> Delivery | None:
    """The row, locked, if it is still in one of ``statuses`` (skip it if another holds it)."""
    rows = Delivery.objects.select_related("invoice", "invoice__credits").filter(
        pk=pk, status__in=statuses
    )
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def _claim(pk: int, now: dt.datetime, *, at_once: bool) -> Delivery | None:
    """The row marked ``sending`` and committed, with this worker's session lock held until
    ``_finish``; None when it is not due any more or another worker has it."""
    if not _hold(pk):
        return None
    try:
        with transaction.atomic():
            rows = _due(Delivery.objects.filter(pk=pk), now, at_once=at_once)
            row = rows.first()
            locked = None if row is None else _lock(pk, row.status)
            if locked is not None:
                locked.status = Delivery.Status.SENDING
                locked.attempts += 1
                locked.save(update_fields=["status", "attempts", "updated_at"])
    except BaseException:
        _release(pk)
        raise
    if locked is None:
        _release(pk)
    return locked


def _finish(row: Delivery, error: TransportError | None) -> None:
    try:
        _record_outcome(row, error)
    finally:
        _release(row.pk)


def _record_outcome(row: Delivery, error: TransportError | None) -> None:
    with transaction.atomic():
        if error is None:
            row.status = Delivery.Status.SENT
            row.error = ""
            row.next_attempt_at = None
            row.save(update_fields=["status", "error", "next_attempt_at", "updated_at"])
            record(
                "delivery.sent",
                _label(row.invoice),
                {
                    "channel": row.channel,
                    "recipient": row.recipient,
                    "attempts": row.attempts,
                    "delivery": row.pk,
                    "instance_id": str(row.instance_id) if row.instance_id else "",
                    "message_id": row.message_id,
                },
            )
            return
        row.status = Delivery.Status.FAILED
        row.error = error.message
        delay = min(BACKOFF_START * 2 ** max(row.attempts - 1, 0), BACKOFF_MAX)
        row.next_attempt_at = (
            timezone.now() + dt.timedelta(seconds=delay) if error.transient else None
        )
        row.save(update_fields=["status", "error", "next_attempt_at", "updated_at"])
        record(
            "delivery.failed",
            _label(row.invoice),
            {
                "channel": row.channel,
                "recipient": row.recipient,
                "attempts": row.attempts,
                "error": row.error,
                "retry": error.transient,
                "delivery": row.pk,
            },
        )


def _select(run_id: int | None, numbers: Iterable[int]) -> list[Invoice] | None:
    numbers = list(numbers)
    if run_id is None and not numbers:
        return None
    try:
        return select_documents(run_id, numbers)
    except ExportError as error:
        raise DeliveryError(str(error)) from None


def deliver(
    run_id: int | None = None,
    numbers: Iterable[int] = (),
    dry_run: bool = False,
    stop: Callable[[], bool] | None = None,
    skip_unconfigured: bool = False,
) -> DeliveryReport:
    """Queue what is issued and undelivered, then send what is queued or failed and due;
    ``stop`` (``--watch`` on SIGTERM) is asked before each document and ends the batch early.

    Raises ``MissingSetting`` before sending anything when a channel that is needed has no
    setting, and ``DeliveryError`` for documents that cannot be delivered. With
    ``skip_unconfigured`` (the web page), the channels that are set up are delivered and the
    others' documents stay queued, counted in ``report.unconfigured``."""
    numbers = list(numbers)
    selected = _select(run_id, numbers)
    invoices = (
        selected
        if selected is not None
        else list(
            Invoice.objects.select_related("credits")
            .filter(status=Invoice.Status.ISSUED)
            .filter(
                ~Exists(Delivery.objects.filter(invoice=OuterRef("pk"), resend_of__isnull=True))
            )
            .order_by("number")
        )
    )
    now = timezone.now()
    at_once = bool(numbers)
    report = DeliveryReport(dry_run=dry_run)
    report.receipts = report.receipts if dry_run else read_receipts()  # first, the inbox
    existing = {
        (row.invoice_id, row.channel) for row in _scope(invoices).filter(resend_of__isnull=True)
    }
    to_queue = [
        invoice for invoice in invoices if (invoice.pk, route(invoice).channel) not in existing
    ]
    due = list(_due(_scope(selected), now, at_once=at_once))
    needed = {route(invoice).channel for invoice in to_queue} | {row.channel for row in due}
    if not dry_run:
        needed |= {
            row.channel
            for row in _scope(selected).filter(status=Delivery.Status.SENDING)
            if row.channel == Channel.PEPPOL
        }
    missing: dict[str, str] = {}
    for channel in sorted(needed):
        try:
            SENDERS[channel]().check()
        except MissingSetting as error:
            if not skip_unconfigured:
                raise
            missing[channel] = str(error).rstrip(".")
    if dry_run:
        report.planned = [_new_row(invoice, route(invoice)) for invoice in to_queue] + due
        report.skipped = _scope(selected).count() - len(due)
        return report
    recover_interrupted(selected)
    queue_deliveries(to_queue)
    pending = list(_due(_scope(selected), now, at_once=at_once).order_by("id"))
    report.skipped = _scope(selected).count() - len(pending)
    if missing:
        waiting = Counter(row.channel for row in pending if row.channel in missing)
        report.unconfigured = {
            channel: (reason, waiting[channel])
            for channel, reason in missing.items()
            if waiting[channel]  # e.g. only a row another worker is sending right now
        }
        pending = [row for row in pending if row.channel not in missing]
    # Print rows are claimed (marked sending) only when their batch is written, so that a
    # process stopped earlier leaves them queued rather than uncertain.
    prints: dict[int | None, list[Delivery]] = defaultdict(list)
    for candidate in pending:
        if stop is not None and stop():
            break
        if candidate.channel == Channel.PRINT:
            prints[candidate.invoice.run_id].append(candidate)
            continue
        row = _claim(candidate.pk, now, at_once=at_once)
        if row is None:
            report.skipped += 1  # another worker has it
            continue
        _send_one(row, report)
    for run, candidates in prints.items():
        if stop is not None and stop():
            break
        rows = []
        for candidate in candidates:
            claimed = _claim(candidate.pk, now, at_once=at_once)
            if claimed is None:
                report.skipped += 1
            else:
                rows.append(claimed)
        if rows:
            _send_prints(run, rows, report)
    report.uncertain = Delivery.objects.filter(status=Delivery.Status.UNCERTAIN).count()
    return report


def _send_one(row: Delivery, report: DeliveryReport) -> None:
    try:
        SENDERS[row.channel]().send(row)
    except TransportError as error:
        _finish(row, error)
        report.failed.append(row)
        return
    except Exception as error:  # a document that cannot be rendered must not stop the others
        _finish(row, TransportError(f"{type(error).__name__}: {error}", transient=False))
        report.failed.append(row)
        return
    _pause_for_tests("DELIVER_SEND")  # handed over, not yet recorded
    _finish(row, None)
    report.delivered.append(row)


def _send_prints(run: int | None, rows: list[Delivery], report: DeliveryReport) -> None:
    title = f"körning {run}" if run is not None else "enstaka dokument"
    try:
        path = PrintSender().send_batch(rows, title=title)
    except Exception as error:
        failure = (
            error
            if isinstance(error, TransportError)
            else TransportError(f"{type(error).__name__}: {error}", transient=False)
        )
        for row in rows:
            _finish(row, failure)
            report.failed.append(row)
        return
    for row in rows:
        row.error = ""
        _finish(row, None)
        report.delivered.append(row)
    record(
        "delivery.print_batch",
        title,
        {"file": str(path), "numbers": [row.invoice.number for row in rows]},
    )


def resend(number: int, channel: str | None = None, *, dry_run: bool = False) -> Delivery:
    """A new delivery of a document on a person's request, recorded; sent by the next
    ``deliver``. Without ``channel``, the document's own channel. Raises ``MissingSetting``
    before recording anything when the channel is not set up; ``dry_run`` returns the row
    unsaved."""
    try:
        invoice = select_documents(None, [number])[0]
    except ExportError as error:
        raise DeliveryError(str(error)) from None
    where = route(invoice)
    if channel is not None and channel != where.channel:
        buyer = invoice.buyer or {}
        if channel == Channel.PEPPOL:
            if where.channel != Channel.PEPPOL and (
                invoice.kind in ("internal_charge", "internal_credit")
                or not (buyer.get("peppol_scheme") and buyer.get("peppol_id"))
            ):
                raise DeliveryError(
                    f"{_label(invoice)} kan inte skickas via Peppol: "
                    + (
                        "interna debiteringar går aldrig via Peppol"
                        if invoice.kind in ("internal_charge", "internal_credit")
                        else "köparen hade ingen Peppol-adress när dokumentet utfärdades"
                    )
                )
            where = Route(Channel.PEPPOL, f"{buyer['peppol_scheme']}:{buyer['peppol_id']}")
        elif channel == Channel.EMAIL:
            if not buyer.get("email"):
                raise DeliveryError(
                    f"{_label(invoice)} kan inte e-postas: köparen hade ingen e-postadress när "
                    "dokumentet utfärdades"
                )
            where = Route(Channel.EMAIL, str(buyer["email"]))
        else:
            from kortfaktura.delivery.channels import postal_address

            where = Route(Channel.PRINT, postal_address(buyer))
    SENDERS[where.channel]().check()
    if dry_run:
        return _new_row(invoice, where)
    with transaction.atomic():
        original = (
            Delivery.objects.filter(invoice=invoice, channel=where.channel, resend_of__isnull=True)
            .order_by("id")
            .first()
        )
        if original is None:  # never delivered in this channel: this is its first delivery
            row = _new_row(invoice, where)
        else:
            row = _new_row(invoice, where, resend_of=original)
        row.save()
        record(
            "delivery.resent" if original else "delivery.queued",
            _label(invoice),
            {
                "channel": row.channel,
                "recipient": row.recipient,
                "delivery": row.pk,
                "resend_of": original.pk if original else None,
            },
        )
    return row


def list_deliveries(status: str | None = None) -> list[Delivery]:
    rows = Delivery.objects.select_related("invoice").order_by("invoice__number", "id")
    if status:
        rows = rows.filter(status=status)
    return list(rows)
