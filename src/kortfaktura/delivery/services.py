"""Queueing and sending deliveries, exactly once per document and channel (DOMAIN.md R20).

Each delivery is claimed in a transaction of its own (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so that several workers share the queue), marked ``sending`` and committed before
anything leaves the system, and recorded ``sent`` or ``failed`` afterwards, in a transaction of
its own that is tried again while the database is busy (an outcome is never lost after a
hand-over). A row found in ``sending`` at the start was interrupted: a Peppol hand-over is
repeated (same file name, same bytes: a no-op in the outbox); an e-mail may have left and is
marked ``uncertain`` for a person to decide — never sent again on its own. Print rows are marked
``sending`` only once their batch file is written whole (under a temporary name): a batch that
never got its name was not printed and its rows are queued again; one that did makes them
``uncertain``, naming the file. A person who checked that an uncertain delivery arrived
confirms it (``confirm``).
"""

import datetime as dt
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.services import record
from kortfaktura.billing.models import Invoice
from kortfaktura.delivery.channels import (
    SENDERS,
    MissingSetting,
    PeppolSender,
    PrintSender,
    Route,
    Sender,
    check_inbox,
    new_message_id,
    postal_address,
    route,
    stored_documents,
    temporary_batch,
)
from kortfaktura.delivery.inbox import ReceiptReport, read_receipts
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.delivery.transport import MaybeSent, TransportError
from kortfaktura.documents.data import documents_for
from kortfaktura.documents.models import DamagedDocument
from kortfaktura.documents.pdf import RenderError
from kortfaktura.documents.services import ExportError, select_documents

BACKOFF_START = 60  # seconds after the first failure; doubles with each attempt
BACKOFF_MAX = 6 * 3600
# PostgreSQL advisory lock namespace: a worker holds (SENDING_LOCK, delivery id) in its session
# while a row it claimed is ``sending``; the lock dies with the worker's connection, so a row in
# ``sending`` whose lock is free was left by a worker that stopped.
SENDING_LOCK = 2011
# Recording an outcome while the database is busy (SQLite: another writer beyond the busy
# timeout; PostgreSQL: a lost connection): tried this many times, waiting 0.25, 0.5, 1 … s.
RECORD_TRIES = 6
RECORD_BACKOFF = 0.25
# A print batch's temporary file older than this was left by a process that stopped before
# the batch got its name (its rows went back to the queue): removed when the next is written.
STALE_BATCH = dt.timedelta(days=1)
MESSAGE_ID_LENGTH = 300  # Delivery.message_id
# Peppol rows claimed, handed over and recorded together (fewer transactions and fsyncs of the
# database); after a crash the batch's rows are handed over again, a no-op in the outbox.
PEPPOL_BATCH = 100
QUEUE_CHUNK = 500  # deliveries queued in one transaction

__all__ = ["DeliveryError", "MissingSetting", "is_database_busy", "reset_connection"]


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
    """A queued delivery for each issued document that has none in its channel; idempotent.
    Written in chunks, each in one transaction; a chunk that meets a row another worker queued
    meanwhile is written again row by row."""
    issued = [invoice for invoice in invoices if invoice.status == Invoice.Status.ISSUED]
    created: list[Delivery] = []
    for start in range(0, len(issued), QUEUE_CHUNK):
        chunk = [(invoice, route(invoice)) for invoice in issued[start : start + QUEUE_CHUNK]]
        existing = set(
            Delivery.objects.filter(
                invoice__in=[invoice for invoice, _ in chunk], resend_of__isnull=True
            ).values_list("invoice_id", "channel")
        )
        wanted = [(i, where) for i, where in chunk if (i.pk, where.channel) not in existing]
        try:
            created += _queue_rows(wanted)
        except IntegrityError:  # another worker queued some of them meanwhile
            for one in wanted:
                try:
                    created += _queue_rows([one])
                except IntegrityError:
                    continue
    return created


def _queue_rows(wanted: list[tuple[Invoice, Route]]) -> list[Delivery]:
    with transaction.atomic():
        rows = Delivery.objects.bulk_create([_new_row(invoice, where) for invoice, where in wanted])
        for row in rows:
            record(
                "delivery.queued",
                _label(row.invoice),
                {"channel": row.channel, "recipient": row.recipient, "delivery": row.pk},
            )
    return rows


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
    a no-op); e-mail becomes ``uncertain`` (it may have left); print is queued again when its
    batch never got its name, else ``uncertain`` naming the batch file."""
    changed: list[Delivery] = []
    unnamed: set[Path] = set()
    for row in _scope(invoices).filter(status=Delivery.Status.SENDING):
        if row.pk in _UNRECORDED or not _hold(row.pk):
            continue  # a live worker is sending it right now (or this one, to be recorded)
        try:
            _recover_one(row.pk, changed, unnamed)
        finally:
            _release(row.pk)
    for temporary in unnamed:  # once every row of its batch has been decided
        temporary.unlink(missing_ok=True)
    return changed


def _batch_reference(path: Path) -> str:
    """What a print row keeps of its batch file (in ``message_id``: for print, the file the
    document went out in)."""
    text = str(path)
    return text if len(text) <= MESSAGE_ID_LENGTH else path.name


def _batch_path(reference: str) -> Path:
    path = Path(reference)
    return path if path.is_absolute() else Path(settings.PRINT_DIR) / path


def _recover_one(pk: int, changed: list[Delivery], unnamed: set[Path]) -> None:
    with transaction.atomic():
        locked = _lock(pk, Delivery.Status.SENDING)
        if locked is None:
            return  # finished meanwhile
        decide = _decide(locked.invoice.number)
        batch = _batch_path(locked.message_id) if locked.message_id else None
        if locked.channel == Channel.PEPPOL or (
            locked.channel == Channel.PRINT
            and batch is not None
            and temporary_batch(batch).exists()
            and not batch.exists()
        ):
            # Peppol: handing the same file over again is a no-op. Print: the batch was never
            # given its name, so nobody can have printed it.
            locked.status = Delivery.Status.QUEUED
            locked.save(update_fields=["status", "updated_at"])
            if batch is not None and locked.channel == Channel.PRINT:
                unnamed.add(temporary_batch(batch))
            return
        locked.status = Delivery.Status.UNCERTAIN
        if locked.channel == Channel.PRINT and batch is not None:
            locked.error = (
                f"avbröts efter att utskriftsfilen {batch} skrevs men innan leveransen "
                "registrerades – se efter om dokumentet finns i filen och har skrivits ut; "
                f"{decide}"
            )
        else:
            locked.error = f"avbröts under sändningen – kan ha nått mottagaren; {decide}"
        locked.save(update_fields=["status", "error", "updated_at"])
        details: dict[str, Any] = {
            "channel": locked.channel,
            "delivery": locked.pk,
            "recipient": locked.recipient,
        }
        if locked.channel == Channel.PRINT and batch is not None:
            details["file"] = str(batch)
        record("delivery.uncertain", _label(locked.invoice), details)
        changed.append(locked)


def _decide(number: int | None) -> str:
    """What a person does with an uncertain delivery."""
    return (
        f"bekräfta med kortfaktura deliver --confirm {number} --reason TEXT om mottagaren "
        f"fått dokumentet, annars skicka igen med kortfaktura deliver --resend {number}"
    )


def _hold(pk: int) -> bool:
    """Takes the session lock that marks a row as being sent by this worker (PostgreSQL);
    False when another live worker holds it. SQLite has one worker: always True."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SENDING_LOCK, pk])
        return bool(cursor.fetchone()[0])


def _hold_many(pks: list[int]) -> list[int]:
    """``_hold`` for many rows in one statement: the ones this worker now holds."""
    if connection.vendor != "postgresql" or not pks:
        return list(pks)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::int[]) AS k WHERE pg_try_advisory_lock(%s, k)",
            [pks, SENDING_LOCK],
        )
        held = {row[0] for row in cursor.fetchall()}
    return [pk for pk in pks if pk in held]


def _release_many(pks: Iterable[int]) -> None:
    pks = [pk for pk in pks if pk not in _UNRECORDED]
    if connection.vendor != "postgresql" or not pks:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, k) FROM unnest(%s::int[]) AS k",
                [SENDING_LOCK, pks],
            )
    except (OperationalError, InterfaceError):
        pass  # the connection is gone, and with it the session's locks


def _release(pk: int) -> None:
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SENDING_LOCK, pk])
        except (OperationalError, InterfaceError):
            pass  # the connection is gone, and with it the session's locks


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


def _mark_sending(
    pks: list[int], now: dt.datetime, *, at_once: bool, batch: str = ""
) -> list[Delivery]:
    """The rows that are still due, marked ``sending`` in one transaction (print: with the
    batch file they go out in), in the order of ``pks``; rows no longer due, or locked by
    another worker, are left out."""
    if not pks:
        return []
    with transaction.atomic():
        rows = _due(
            Delivery.objects.select_related("invoice", "invoice__credits").filter(pk__in=pks),
            now,
            at_once=at_once,
        ).order_by()
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        found = {row.pk: row for row in rows}
        if not found:
            return []
        changed = timezone.now()
        values: dict[str, Any] = {
            "status": Delivery.Status.SENDING,
            "attempts": F("attempts") + 1,
            "updated_at": changed,
        }
        if batch:
            values["message_id"] = batch
        Delivery.objects.filter(pk__in=list(found)).update(**values)
    marked = []
    for pk in pks:
        row = found.get(pk)
        if row is None:
            continue
        row.status = Delivery.Status.SENDING
        row.attempts += 1
        row.updated_at = changed
        if batch:
            row.message_id = batch
        marked.append(row)
    return marked


def _claim(pk: int, now: dt.datetime, *, at_once: bool) -> Delivery | None:
    """The row marked ``sending`` and committed, with this worker's session lock held until
    ``_finish``; None when it is not due any more or another worker has it."""
    if not _hold(pk):
        return None
    try:
        marked = _mark_sending([pk], now, at_once=at_once)
    except BaseException:
        _release(pk)
        raise
    if not marked:
        _release(pk)
        return None
    return marked[0]


# Outcomes the database did not take (busy beyond every retry): recorded first thing in the
# next round of this process (``deliver --watch``), before interrupted rows are looked for.
_UNRECORDED: dict[int, tuple[Delivery, TransportError | None, dict[str, Any]]] = {}


def is_database_busy(error: BaseException) -> bool:
    """A database error that may pass: SQLite busy ("database is locked") or a connection to
    PostgreSQL that was lost."""
    return isinstance(error, OperationalError | InterfaceError)


def reset_connection() -> None:
    """After a database error: a connection that cannot be used any more (PostgreSQL's was
    lost) is closed, so that the next query opens a new one. SQLite's stays open."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if not connection.is_usable():
        connection.close()


def _retrying(work: Callable[[], None]) -> None:
    """``work`` (one transaction), tried again with a short backoff while the database is busy
    or the connection was lost; the last error is raised."""
    delay = RECORD_BACKOFF
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            work()
            return
        except DatabaseError as error:
            if not is_database_busy(error) or attempt == RECORD_TRIES:
                raise
            if connection.in_atomic_block:
                raise  # inside someone else's transaction: theirs to retry
            reset_connection()
            time.sleep(delay)
            delay *= 2


def _conclude(row: Delivery, error: TransportError | None, details: dict[str, Any]) -> None:
    """Records a row's outcome in a transaction of its own, tried again while the database is
    busy. If it still will not take it, the outcome is kept for this process's next round and
    the error raised: after a hand-over the outcome is never lost to a busy database."""
    try:
        _retrying(partial(_record_outcome, row, error, details))
    except DatabaseError:
        _UNRECORDED[row.pk] = (row, error, details)
        raise


def _finish(
    row: Delivery, error: TransportError | None, details: dict[str, Any] | None = None
) -> None:
    _conclude(row, error, details or {})
    _release(row.pk)  # kept (with the outcome) when the outcome could not be recorded


def record_unrecorded() -> None:
    """Records the outcomes an earlier round of this process could not (the database was busy
    too long); raises while it still cannot."""
    for pk, (row, error, details) in list(_UNRECORDED.items()):
        _retrying(partial(_record_outcome, row, error, details))
        del _UNRECORDED[pk]
        _release(pk)


Outcome = tuple[Delivery, TransportError | None, dict[str, Any]]


def _conclude_many(outcomes: list[Outcome], unsent: list[Delivery]) -> None:
    """``_conclude`` for a batch in one transaction; ``unsent`` rows (the batch was stopped
    before them) go back to the queue in it. Kept for the next round, as ``_conclude`` does,
    when the database will not take them."""
    try:
        _retrying(partial(_record_outcomes, outcomes, unsent))
    except DatabaseError:
        for row, error, details in outcomes:
            _UNRECORDED[row.pk] = (row, error, details)
        raise


def _record_outcomes(outcomes: list[Outcome], unsent: list[Delivery]) -> None:
    with transaction.atomic():
        for row, error, details in outcomes:
            _record_outcome(row, error, details)
        if unsent:
            Delivery.objects.filter(
                pk__in=[row.pk for row in unsent], status=Delivery.Status.SENDING
            ).update(
                status=Delivery.Status.QUEUED,
                attempts=F("attempts") - 1,
                updated_at=timezone.now(),
            )


def _record_outcome(row: Delivery, error: TransportError | None, details: dict[str, Any]) -> None:
    with transaction.atomic():
        status = (
            Delivery.objects.select_for_update()
            .filter(pk=row.pk)
            .values_list("status", flat=True)
            .first()
        )
        if status not in (Delivery.Status.SENDING, Delivery.Status.UNCERTAIN):
            return  # decided meanwhile (e.g. a person confirmed it): that decision stands
        fields = ["status", "error", "next_attempt_at", "recipient", "updated_at"]
        if error is None:
            row.status = Delivery.Status.SENT
            row.error = ""
            row.next_attempt_at = None
            row.save(update_fields=fields)
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
                    **details,
                },
            )
            return
        facts: dict[str, Any] = {}
        if isinstance(error, MaybeSent):  # it may have arrived: a person decides, no retry
            action = "delivery.uncertain"
            row.status = Delivery.Status.UNCERTAIN
            row.error = f"{error.message}; {_decide(row.invoice.number)}"
            row.next_attempt_at = None
        else:
            action = "delivery.failed"
            row.status = Delivery.Status.FAILED
            row.error = error.message
            delay = min(BACKOFF_START * 2 ** max(row.attempts - 1, 0), BACKOFF_MAX)
            row.next_attempt_at = (
                timezone.now() + dt.timedelta(seconds=delay) if error.transient else None
            )
            facts["retry"] = error.transient
        row.save(update_fields=fields)
        record(
            action,
            _label(row.invoice),
            {
                "channel": row.channel,
                "recipient": row.recipient,
                "attempts": row.attempts,
                "error": row.error,
                **facts,
                "delivery": row.pk,
                **details,
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


def check_settings(channels: Iterable[str], *, skip_unconfigured: bool = False) -> dict[str, str]:
    """Checks the inbox (always read) and each channel's settings before anything is read,
    queued or sent. Raises ``MissingSetting`` naming the variable; with ``skip_unconfigured``
    returns instead channel → why it cannot be used (``"inbox"`` for the inbox)."""
    missing: dict[str, str] = {}
    try:
        check_inbox()
    except MissingSetting as error:
        if not skip_unconfigured:
            raise
        missing["inbox"] = str(error).rstrip(".")
    for channel in sorted(set(channels)):
        try:
            SENDERS[channel]().check()
        except MissingSetting as error:
            if not skip_unconfigured:
                raise
            missing[channel] = str(error).rstrip(".")
    return missing


def _plan(
    selected: list[Invoice] | None, now: dt.datetime, *, at_once: bool, dry_run: bool
) -> tuple[list[Invoice], list[Delivery], set[str]]:
    """What a delivery would do: the documents to queue, the rows due, and the channels that
    needs (with the Peppol rows left ``sending``, which recovery hands over again)."""
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
    # A document is delivered once, in one channel (R20): one that has its first delivery in any
    # channel – also one a person sent another way with --resend – is not queued again in the
    # channel its customer has now. Another delivery is a person's --resend.
    existing = set(
        _scope(invoices).filter(resend_of__isnull=True).values_list("invoice_id", flat=True)
    )
    to_queue = [invoice for invoice in invoices if invoice.pk not in existing]
    due = list(_due(_scope(selected), now, at_once=at_once))
    needed = {route(invoice).channel for invoice in to_queue} | {row.channel for row in due}
    if not dry_run:
        needed |= {
            row.channel
            for row in _scope(selected).filter(status=Delivery.Status.SENDING)
            if row.channel == Channel.PEPPOL
        }
    return to_queue, due, needed


CONFIGURED = {
    Channel.PEPPOL: lambda: settings.PEPPOL_OUTBOX,
    Channel.EMAIL: lambda: settings.SMTP_URL or settings.MAIL_FROM,
    Channel.PRINT: lambda: settings.PRINT_DIR,
}


def check_ready() -> None:
    """Before a service starts (``deliver --watch``): the inbox, every channel that has a
    setting, and every channel that documents wait for must be usable; ``MissingSetting``
    naming the variable otherwise."""
    _, _, needed = _plan(None, timezone.now(), at_once=False, dry_run=False)
    check_settings(needed | {channel for channel, value in CONFIGURED.items() if value()})


def deliver(
    run_id: int | None = None,
    numbers: Iterable[int] = (),
    dry_run: bool = False,
    stop: Callable[[], bool] | None = None,
    skip_unconfigured: bool = False,
) -> DeliveryReport:
    """Queue what is issued and undelivered, then send what is queued or failed and due;
    ``stop`` (``--watch`` on SIGTERM) is asked before each document and ends the batch early.

    Raises ``MissingSetting`` before reading, queuing or sending anything when the inbox or a
    channel that is needed has a setting that is missing or cannot work, and ``DeliveryError``
    for documents that cannot be delivered. With ``skip_unconfigured`` (the web page), the
    channels that are set up are delivered and the others' documents stay queued, counted in
    ``report.unconfigured``; an inbox that cannot be used is not read."""
    numbers = list(numbers)
    selected = _select(run_id, numbers)
    if not dry_run:
        record_unrecorded()
    now = timezone.now()
    at_once = bool(numbers)
    report = DeliveryReport(dry_run=dry_run)
    to_queue, due, needed = _plan(selected, now, at_once=at_once, dry_run=dry_run)
    missing = check_settings(needed, skip_unconfigured=skip_unconfigured)
    inbox_problem = missing.pop("inbox", "")
    if dry_run:
        report.planned = [_new_row(invoice, route(invoice)) for invoice in to_queue] + due
        report.skipped = _scope(selected).count() - len(due)
        return report
    if inbox_problem:
        report.receipts.errors.append(f"inkorgen lästes inte: {inbox_problem}")
    else:
        report.receipts = read_receipts()  # first, the inbox
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
    # Print rows are marked sending only when their batch is written, so that a process
    # stopped earlier leaves them queued rather than uncertain.
    prints: dict[int | None, list[Delivery]] = defaultdict(list)
    peppol: list[Delivery] = []
    for candidate in pending:
        if stop is not None and stop():
            break
        if candidate.channel == Channel.PRINT:
            prints[candidate.invoice.run_id].append(candidate)
            continue
        if candidate.channel == Channel.PEPPOL:
            peppol.append(candidate)
            if len(peppol) >= PEPPOL_BATCH:
                _send_peppol_batch(peppol, report, now=now, at_once=at_once, stop=stop)
                peppol = []
            continue
        row = _claim(candidate.pk, now, at_once=at_once)
        if row is None:
            report.skipped += 1  # another worker has it
            continue
        _send_one(row, report)
    if peppol and not (stop is not None and stop()):
        _send_peppol_batch(peppol, report, now=now, at_once=at_once, stop=stop)
    for run, candidates in prints.items():
        if stop is not None and stop():
            break
        _send_prints(run, candidates, report, now=now, at_once=at_once)
    report.uncertain = Delivery.objects.filter(status=Delivery.Status.UNCERTAIN).count()
    return report


def _hand_over(sender: Sender, row: Delivery) -> TransportError | None:
    """Sends one claimed row; the reason it did not go, or None. A document that cannot be made
    never stops the others: its error is named (the project's own errors already say in Swedish
    what is wrong; anything else by its type, so that a person can report it)."""
    try:
        sender.send(row)
    except TransportError as error:
        return error
    except Exception as error:
        text = " ".join(str(error).split())[:300]
        own = isinstance(error, ExportError | DamagedDocument | RenderError)
        what = text if own else f"{type(error).__name__}: {text}"
        return TransportError(f"{_label(row.invoice)}: {what}", transient=False)
    return None


def _outcome(row: Delivery, error: TransportError | None, queued_to: str) -> Outcome:
    # The document named another receiver than the snapshot the row was queued from (which
    # was changed after issuing): it went where the document says, and the trail says so.
    moved = error is None and row.recipient != queued_to
    return row, error, {"snapshot_recipient": queued_to} if moved else {}


def _count(report: DeliveryReport, row: Delivery, error: TransportError | None) -> None:
    if error is None:
        report.delivered.append(row)
    elif not isinstance(error, MaybeSent):  # uncertain ones are counted as such
        report.failed.append(row)


def _send_one(row: Delivery, report: DeliveryReport) -> None:
    queued_to = row.recipient
    error = _hand_over(SENDERS[row.channel](), row)
    if error is None:
        _pause_for_tests("DELIVER_SEND")  # handed over, not yet recorded
    outcome = _outcome(row, error, queued_to)
    _finish(*outcome)
    _count(report, row, error)


def _send_peppol_batch(
    candidates: list[Delivery],
    report: DeliveryReport,
    *,
    now: dt.datetime,
    at_once: bool,
    stop: Callable[[], bool] | None,
) -> None:
    """Peppol rows in one batch: claimed ``sending`` in one transaction, handed over one by
    one, their outcomes recorded in one transaction. Safe because a Peppol row left
    ``sending`` by a process that stopped is handed over again, which is a no-op in the outbox
    (``recover_interrupted``); e-mail is claimed row by row, as it may have left."""
    held = _hold_many([row.pk for row in candidates])
    try:
        marked = _mark_sending(held, now, at_once=at_once)
    except BaseException:
        _release_many(held)
        raise
    taken = {row.pk for row in marked}
    _release_many([pk for pk in held if pk not in taken])
    report.skipped += len(candidates) - len(marked)  # another worker has them
    sender = PeppolSender(stored_documents([row.invoice for row in marked]))
    outcomes: list[Outcome] = []
    unsent: list[Delivery] = []
    for row in marked:
        if unsent or (stop is not None and stop()):
            unsent.append(row)
            continue
        queued_to = row.recipient
        error = _hand_over(sender, row)
        if error is None:
            _pause_for_tests("DELIVER_SEND")  # handed over, not yet recorded
        outcomes.append(_outcome(row, error, queued_to))
    _conclude_many(outcomes, unsent)  # raises, holding the rows, when it cannot be recorded
    for row, error, _ in outcomes:
        _count(report, row, error)
    _release_many(taken)


def _send_prints(
    run: int | None,
    candidates: list[Delivery],
    report: DeliveryReport,
    *,
    now: dt.datetime,
    at_once: bool,
) -> None:
    """One batch file for a run's print rows. Every document is rendered on its own first: one
    that cannot be (a glyph no font has, a stored document that no longer matches its hash)
    fails alone, naming the document, and the others are printed. The batch is written whole
    under a temporary name, its rows are marked ``sending`` with the file's name, the file gets
    its name, and the rows become ``sent``."""
    title = f"körning {run}" if run is not None else "enstaka dokument"
    sender = PrintSender()
    held: list[Delivery] = []
    try:
        for candidate in candidates:
            if _hold(candidate.pk):
                held.append(candidate)
            else:
                report.skipped += 1  # another worker has it
        still_due = set(
            _due(Delivery.objects.filter(pk__in=[row.pk for row in held]), now, at_once=at_once)
            .values_list("pk", flat=True)
        )  # fmt: skip
        rows = [row for row in held if row.pk in still_due]
        report.skipped += len(held) - len(rows)
        if not rows:
            return
        rendered = []
        for row, document in zip(rows, documents_for([r.invoice for r in rows]), strict=True):
            try:
                rendered.append((row, document, sender.render(row, document)))
            except TransportError as error:
                for failed in _mark_sending([row.pk], now, at_once=at_once):
                    _conclude(failed, error, {})
                    report.failed.append(failed)
        if not rendered:
            return
        _pause_for_tests("DELIVER_PRINT_RENDERED")  # nothing written: the rows are queued
        batch = sender.batch(rendered, title=title)
        pks = [row.pk for row, _, _ in rendered]
        try:
            _remove_stale_batches(batch.path.parent)
            sender.stage(batch)
        except TransportError as error:
            for failed in _mark_sending(pks, now, at_once=at_once):
                _conclude(failed, error, {})
                report.failed.append(failed)
            return
        marked = _mark_sending(pks, now, at_once=at_once, batch=_batch_reference(batch.path))
        if len(marked) < len(pks):  # cannot happen while this worker holds the rows' locks
            batch.temporary.unlink(missing_ok=True)
            retry = TransportError("utskriftsfilen skrevs inte: en annan process tog dokument")
            for row in marked:
                _conclude(row, retry, {})
                report.failed.append(row)
            return
        _pause_for_tests("DELIVER_PRINT_MARKED")  # sending, but the batch has no name yet
        try:
            sender.publish(batch)
        except TransportError as error:
            batch.temporary.unlink(missing_ok=True)
            for row in marked:
                _conclude(row, error, {})
                report.failed.append(row)
            return
        _pause_for_tests("DELIVER_PRINT_WRITTEN")  # the batch exists, ``sent`` not recorded
        for row in marked:
            _conclude(row, None, {"file": str(batch.path)})
            report.delivered.append(row)
        _retrying(
            partial(
                _record_batch,
                title,
                {"file": str(batch.path), "numbers": [row.invoice.number for row in marked]},
            )
        )
    finally:
        for row in held:
            if row.pk not in _UNRECORDED:
                _release(row.pk)


def _record_batch(title: str, details: dict[str, Any]) -> None:
    with transaction.atomic():
        record("delivery.print_batch", title, details)


def _remove_stale_batches(directory: Path) -> None:
    """Temporary batch files that a stopped process left (their rows went back to the queue)."""
    limit = time.time() - STALE_BATCH.total_seconds()
    if not directory.is_dir():
        return
    for stale in directory.glob(".utskrift-*.pdf.tmp"):
        try:
            if stale.stat().st_mtime < limit:
                stale.unlink()
        except OSError:
            continue


def _resend_route(invoice: Invoice, channel: str | None) -> Route:
    """Where a resend goes: the document's own channel, or ``channel`` when it can carry the
    document (from the buyer snapshot, never today's account)."""
    where = route(invoice)
    if channel is None or channel == where.channel:
        return where
    buyer = invoice.buyer or {}
    if channel == Channel.PEPPOL:
        internal = invoice.kind in ("internal_charge", "internal_credit")
        if internal or not (buyer.get("peppol_scheme") and buyer.get("peppol_id")):
            raise DeliveryError(
                f"{_label(invoice)} kan inte skickas via Peppol: "
                + (
                    "interna debiteringar går aldrig via Peppol"
                    if internal
                    else "köparen hade ingen Peppol-adress när dokumentet utfärdades"
                )
            )
        return Route(Channel.PEPPOL, f"{buyer['peppol_scheme']}:{buyer['peppol_id']}")
    if channel == Channel.EMAIL:
        if not buyer.get("email"):
            raise DeliveryError(
                f"{_label(invoice)} kan inte e-postas: köparen hade ingen e-postadress när "
                "dokumentet utfärdades"
            )
        return Route(Channel.EMAIL, str(buyer["email"]))
    return Route(Channel.PRINT, postal_address(buyer))


def _record_resend(invoice: Invoice, where: Route) -> Delivery:
    original = (
        Delivery.objects.filter(invoice=invoice, channel=where.channel, resend_of__isnull=True)
        .order_by("id")
        .first()
    )
    # Never delivered in this channel: this is its first delivery.
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


def _resend_rows(wanted: list[tuple[Invoice, str | None]], *, dry_run: bool) -> list[Delivery]:
    """New deliveries of documents (each with the channel asked for, or its own), checked
    whole before anything is recorded; all recorded in one transaction."""
    routes = [(invoice, _resend_route(invoice, channel)) for invoice, channel in wanted]
    check_settings([where.channel for _, where in routes])
    if dry_run:
        return [_new_row(invoice, where) for invoice, where in routes]
    with transaction.atomic():
        return [_record_resend(invoice, where) for invoice, where in routes]


def resend_many(
    numbers: Iterable[int], channel: str | None = None, *, dry_run: bool = False
) -> list[Delivery]:
    """New deliveries of documents on a person's request, recorded; sent by the next
    ``deliver``. Without ``channel``, each document's own channel. Raises ``DeliveryError``
    (an unknown number, a channel that cannot carry a document) or ``MissingSetting`` before
    recording anything; ``dry_run`` returns the rows unsaved."""
    try:
        invoices = select_documents(None, list(numbers))
    except ExportError as error:
        raise DeliveryError(str(error)) from None
    return _resend_rows([(invoice, channel) for invoice in invoices], dry_run=dry_run)


def resend(number: int, channel: str | None = None, *, dry_run: bool = False) -> Delivery:
    """``resend_many`` of one document."""
    return resend_many([number], channel, dry_run=dry_run)[0]


def _latest_uncertain() -> QuerySet[Delivery]:
    """Uncertain rows that no later delivery of the same document and channel followed."""
    later = Delivery.objects.filter(
        invoice=OuterRef("invoice"), channel=OuterRef("channel"), pk__gt=OuterRef("pk")
    )
    return (
        Delivery.objects.select_related("invoice", "invoice__credits")
        .filter(status=Delivery.Status.UNCERTAIN)
        .exclude(Exists(later))
        .order_by("invoice__number", "id")
    )


def resend_uncertain(
    run_id: int, channel: str | None = None, *, dry_run: bool = False
) -> list[Delivery]:
    """A resend of every document of a run whose delivery is uncertain (and not already sent
    again), each in the channel of its uncertain delivery unless ``channel`` says otherwise."""
    _select(run_id, [])  # refuses a run without issued documents
    rows = list(_latest_uncertain().filter(invoice__run_id=run_id))
    return _resend_rows([(row.invoice, channel or row.channel) for row in rows], dry_run=dry_run)


def confirm(numbers: Iterable[int], reason: str) -> list[Delivery]:
    """A person checked that the uncertain deliveries of these documents arrived: they become
    ``sent``, each audited with the person (the actor) and the reason. Nothing is sent. Refuses
    (``DeliveryError``, nothing changed) a document that has no uncertain delivery."""
    reason = " ".join(reason.split())
    if not reason:
        raise DeliveryError(
            'ange varför leveransen bekräftas med --reason, t.ex. --reason "kunden bekräftade '
            'per telefon att fakturan kommit fram"'
        )
    try:
        invoices = select_documents(None, list(numbers))
    except ExportError as error:
        raise DeliveryError(str(error)) from None
    confirmed = []
    with transaction.atomic():
        for invoice in invoices:
            rows = list(
                Delivery.objects.select_for_update()
                .select_related("invoice")
                .filter(invoice=invoice, status=Delivery.Status.UNCERTAIN)
                .order_by("id")
            )
            if not rows:
                latest = Delivery.objects.filter(invoice=invoice).order_by("-id").first()
                state = (
                    "den har ingen leverans"
                    if latest is None
                    else f"dess senaste leverans är {latest.get_status_display()}"
                )
                raise DeliveryError(
                    f"{_label(invoice)} har ingen oviss leverans att bekräfta ({state}) – "
                    "--confirm gäller bara leveranser med status uncertain (oviss), se "
                    "kortfaktura delivery list --status uncertain; inget ändrades"
                )
            for row in rows:
                before = row.error
                row.status = Delivery.Status.SENT
                row.error = ""
                row.next_attempt_at = None
                row.save(update_fields=["status", "error", "next_attempt_at", "updated_at"])
                record(
                    "delivery.confirmed",
                    _label(invoice),
                    {
                        "channel": row.channel,
                        "recipient": row.recipient,
                        "delivery": row.pk,
                        "reason": reason,
                        "status": {"before": Delivery.Status.UNCERTAIN, "after": row.status},
                        "error": {"before": before, "after": ""},
                        **({"file": row.message_id} if row.channel == Channel.PRINT else {}),
                    },
                )
                confirmed.append(row)
    return confirmed


def list_deliveries(status: str | None = None) -> list[Delivery]:
    rows = Delivery.objects.select_related("invoice").order_by("invoice__number", "id")
    if status:
        rows = rows.filter(status=status)
    return list(rows)
