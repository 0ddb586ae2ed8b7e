"""The monthly cycle's steps (R24) as plain functions, each idempotent and audited with the
actor ``system``: run twice, they do the work once. ``schedule`` decides when each is due; a
worker of the task engine (or, until it is merged, ``schedule tick`` itself) carries it out.

- ``import_inbox``: files left in ``KORTFAKTURA_ORDER_INBOX``, imported once per content.
- ``payment_inbox``: payment files left in ``KORTFAKTURA_PAYMENT_INBOX``, each payment once.
- ``send_reminders``: once a day, the reminders of overdue invoices (R23).
- ``monthly_draft``: on the billing day, a draft of everything billable through last month.
- ``deliver_issued``, ``read_receipts``: hand over issued documents, read the answers.
- ``nightly_review``: the review, and a notice to Granskare when it needs a person.
"""

import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.actor import acting_as
from kortfaktura.audit.chain import flush_pending_links
from kortfaktura.audit.services import record
from kortfaktura.billing import chain
from kortfaktura.billing import services as billing
from kortfaktura.billing.core import HELD_BACK_LABELS, HeldBackReason
from kortfaktura.billing.models import BillingRun
from kortfaktura.cycle import notify
from kortfaktura.cycle.models import Notification
from kortfaktura.delivery import services as delivery
from kortfaktura.delivery.inbox import read_receipts as read_receipt_files
from kortfaktura.delivery.models import Delivery
from kortfaktura.delivery.transport import (
    Inbox,
    RefusedFile,
    TransportError,
    check_url,
    open_inbox,
    open_outbox,
    redact,
)
from kortfaktura.imports.engine import ImportFailed
from kortfaktura.imports.models import ImportBatch
from kortfaktura.imports.services import import_file

SYSTEM = billing.SYSTEM_ACTOR
# Customers and prices before orders (an order needs its customer and price); earlier
# invoicing records last, before any draft is made.
KINDS = ("customers", "prices", "orders", "billed")
SUFFIXES = (".csv", ".xlsx")
PROCESSED, QUARANTINE = "processed", "quarantine"


@contextmanager
def as_system() -> Iterator[None]:
    """The schedule's own steps are audited with the actor ``system`` (R24)."""
    with acting_as(SYSTEM):
        yield


def _kind_of(name: str) -> str | None:
    lowered = name.lower()
    for kind in KINDS:
        if lowered.startswith(kind):
            return kind
    return None


def _quarantine_folder(url: str) -> str:
    """The inbox's ``quarantine/`` as an address of its own, for the reason files beside the
    quarantined ones (written with the outbox's atomic writer)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/{QUARANTINE}", "", ""))


def _quarantine(inbox: Inbox, url: str, name: str, reason: str) -> None:
    """Moves ``name`` to ``quarantine/`` and writes the reason beside it (``NAME.orsak.txt``)."""
    inbox.move(name, QUARANTINE)
    folder = open_outbox(_quarantine_folder(url), settings.SSH_KEY)
    text = f"{name}: {reason}\n".encode()
    for attempt in range(100):
        target = f"{name}.orsak.txt" if not attempt else f"{name}.orsak-{attempt}.txt"
        if not folder.exists(target):
            folder.put(target, text)
            return


def _result() -> dict[str, Any]:
    return {"imported": [], "duplicates": [], "quarantined": [], "errors": []}


def _open(
    url: str, variable: str, called: str, result: dict[str, Any]
) -> tuple[Inbox, list[str]] | None:
    """The inbox at ``url`` and its files' names, sorted (not ``processed/`` and
    ``quarantine/``); None, said in ``result``, when it is not set or cannot be read."""
    if not url:
        result["skipped"] = f"{variable} är inte satt"
        return None
    try:
        check_url(url, variable)
        inbox = open_inbox(url, settings.SSH_KEY)
        names = sorted(name for name in inbox.list() if name not in (PROCESSED, QUARANTINE))
    except TransportError as error:
        result["errors"].append(f"{called} {redact(url)}: {error.message}")
        return None
    return inbox, names


def import_inbox() -> dict[str, Any]:
    """Imports every file named ``orders*``, ``customers*``, ``prices*`` or ``billed*`` (CSV or
    XLSX) in ``KORTFAKTURA_ORDER_INBOX``: customers and prices first, each content once (its
    SHA-256 against the completed imports), then moved to ``processed/``. A file that cannot be
    read or imported goes to ``quarantine/`` with the reason in a file beside it, and
    Fakturering is told; so are rows held back in quarantine."""
    result = _result()
    url = settings.ORDER_INBOX
    opened = _open(url, "KORTFAKTURA_ORDER_INBOX", "inkorgen", result)
    if opened is None:
        return result
    inbox, names = opened
    order = {kind: position for position, kind in enumerate(KINDS)}
    names.sort(key=lambda name: (order.get(_kind_of(name) or "", len(KINDS)), name))
    with as_system():
        for name in names:
            _import_one(inbox, url, name, result)
    return result


def _import_one(inbox: Inbox, url: str, name: str, result: dict[str, Any]) -> None:
    kind = _kind_of(name)
    try:
        if kind is None or not name.lower().endswith(SUFFIXES):
            reason = (
                "namnet säger inte vad filen innehåller: det ska börja med orders, customers, "
                "prices eller billed och sluta på .csv eller .xlsx (t.ex. orders-2026-10.csv) – "
                "byt namn och lägg tillbaka filen i inkorgen"
            )
            _file_quarantined(inbox, url, name, reason, result)
            return
        try:
            content = inbox.read(name)
        except RefusedFile as refused:
            _file_quarantined(inbox, url, name, refused.message, result)
            return
        checksum = hashlib.sha256(content).hexdigest()
        if ImportBatch.objects.filter(
            kind=kind, sha256=checksum, status=ImportBatch.Status.COMPLETED
        ).exists():
            # Once per content: the same file again (or a copy under another name) is filed.
            inbox.move(name, PROCESSED)
            result["duplicates"].append(name)
            return
        with tempfile.TemporaryDirectory(prefix="kortfaktura-inkorg-") as folder:
            path = Path(folder) / name
            path.write_bytes(content)
            try:
                imported = import_file(kind, path, created_by=SYSTEM)
            except ImportFailed as failed:
                _file_quarantined(inbox, url, name, str(failed), result)
                return
        inbox.move(name, PROCESSED)
        result["imported"].append(
            {"file": name, "kind": kind, "batch_id": imported.batch_id,
             "imported": imported.imported, "updated": imported.updated,
             "quarantined": imported.quarantined}
        )  # fmt: skip
        if imported.quarantined:
            notify.notify(
                f"import-quarantine:{imported.batch_id}",
                notify.FAKTURERING,
                f"Kortfaktura: {swedish.counted(imported.quarantined, 'rad', 'rader')} i "
                f"karantän i {name}",
                f"Filen {name} från inkorgen lästes in (import {imported.batch_id}): "
                f"{swedish.counted(imported.imported, 'ny', 'nya')}, "
                f"{swedish.counted(imported.updated, 'ändrad', 'ändrade')}, "
                f"{swedish.counted(imported.quarantined, 'rad', 'rader')} "
                "i karantän med en orsak var. Rätta raderna i källsystemet och lägg en ny "
                f"fil i inkorgen.\n\n{notify.link(f'/import/{imported.batch_id}/')}\n",
            )
    except TransportError as error:
        # The file stays where it is and is tried again at the next import (a lost connection).
        result["errors"].append(f"{name}: {error.message}")


@dataclass(frozen=True)
class Quarantine:
    """How a quarantined file of one inbox is recorded and told: the audit action, whom to tell
    and what to say."""

    action: str
    what: str  # as the trail names the file: "inkorgsfil", "betalfil"
    noun: str  # "filen", "betalfilen"
    inbox: str  # "inkorgen", "betalinkorgen"
    role: str
    key: str
    page: str  # the web page that shows what came of it
    advice: str  # what a person does about it


ORDER_FILES = Quarantine(
    "cycle.inbox_quarantined", "inkorgsfil", "filen", "inkorgen", notify.FAKTURERING,
    "inbox-quarantine", "/import/", "Rätta filen och lägg den i inkorgen igen.",
)  # fmt: skip
PAYMENT_FILES = Quarantine(
    "cycle.payment_file_quarantined", "betalfil", "betalfilen", "betalinkorgen", notify.EKONOMI,
    "payment-quarantine", "/betalningar/",
    "Ingen av dess betalningar är bokförd. Be banken om en rättad fil och lägg den i "
    "betalinkorgen.",
)  # fmt: skip


def _file_quarantined(
    inbox: Inbox,
    url: str,
    name: str,
    reason: str,
    result: dict[str, Any],
    kind: Quarantine = ORDER_FILES,
) -> None:
    _quarantine(inbox, url, name, reason)
    result["quarantined"].append({"file": name, "reason": reason})
    with transaction.atomic():
        record(
            kind.action,
            f"{kind.what} {name}",
            {"file": name, "reason": reason, "inbox": redact(url)},
        )
    digest = hashlib.sha256(f"{name}\n{reason}".encode()).hexdigest()[:16]
    notify.notify(
        f"{kind.key}:{name}:{digest}",
        kind.role,
        f"Kortfaktura: {kind.noun} {name} lades i karantän",
        f"{kind.noun.capitalize()} {name} i {kind.inbox} ({redact(url)}) gick inte att läsa in "
        f"och ligger nu i {QUARANTINE}/ med orsaken bredvid sig:\n\n{reason}\n\n{kind.advice}"
        f"\n\n{notify.link(kind.page)}\n",
    )


def payment_inbox() -> dict[str, Any]:
    """Reads every file in ``KORTFAKTURA_PAYMENT_INBOX`` as a payment file (BgMax or camt.054,
    told apart by content; R21): each content once, each payment once (the import's own
    guards), then moved to ``processed/``. A file that is refused goes to ``quarantine/`` with
    the reason beside it, and Ekonomi is told; so are payments that matched no document."""
    from kortfaktura.payments.services import PaymentError, import_content

    result = _result()
    url = settings.PAYMENT_INBOX
    opened = _open(url, "KORTFAKTURA_PAYMENT_INBOX", "betalinkorgen", result)
    if opened is None:
        return result
    inbox, names = opened
    with as_system():
        for name in names:
            try:
                try:
                    content = inbox.read(name)
                except RefusedFile as refused:
                    _file_quarantined(inbox, url, name, refused.message, result, PAYMENT_FILES)
                    continue
                try:
                    imported = import_content(content, name)
                except PaymentError as refused:
                    # The import's message starts with the file's name already.
                    reason = str(refused).removeprefix(f"{name}: ")
                    _file_quarantined(inbox, url, name, reason, result, PAYMENT_FILES)
                    continue
                inbox.move(name, PROCESSED)
            except TransportError as error:
                # Left where it is and tried again at the next round (a lost connection).
                result["errors"].append(f"{name}: {error.message}")
                continue
            if imported.already_imported:
                result["duplicates"].append(name)
                continue
            result["imported"].append(imported.as_json())
            if imported.unmatched:
                notify.notify(
                    f"payments-unmatched:{imported.file_id}",
                    notify.EKONOMI,
                    "Kortfaktura: "
                    f"{swedish.counted(imported.unmatched, 'betalning', 'betalningar')} utan "
                    f"faktura i {name}",
                    f"Betalfilen {name} lästes in: "
                    f"{swedish.counted(imported.payments, 'betalning', 'betalningar')}, "
                    f"{imported.matched} matchade mot fakturor och {imported.unmatched} som inte "
                    "gick att koppla till någon faktura. Koppla dem till rätt faktura eller "
                    "markera dem för återbetalning (kortfaktura payments assign/refund).\n\n"
                    f"{notify.link('/betalningar/')}\n",
                )
    return result


def send_reminders(today: dt.date) -> dict[str, Any]:
    """Once a day: the reminders due (R23), as ``system``; Ekonomi is told when one could not
    be sent or may have left without an answer."""
    from kortfaktura.payments.reminders import remind

    with as_system():
        result = remind(today)
    troubled = [r for r in result.reminders if r.status in ("failed", "uncertain")]
    if troubled:
        listed = "\n".join(
            f"- faktura {r.invoice.number}: {r.get_status_display()} – {r.error}" for r in troubled
        )
        notify.notify(
            f"reminders:{today.isoformat()}:{len(troubled)}",
            notify.EKONOMI,
            f"Kortfaktura: {swedish.counted(len(troubled), 'påminnelse', 'påminnelser')} gick "
            f"inte iväg {today.isoformat()}",
            f"Påminnelserna {today.isoformat()} kunde inte alla skickas:\n\n{listed}\n\n"
            "Misslyckade försöks igen vid nästa körning (kortfaktura remind); en oviss har kanske "
            "kommit fram och skickas inte igen av sig själv.\n",
        )
    return result.as_json()


def previous_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


def monthly_draft(today: dt.date) -> dict[str, Any]:
    """On the billing day: a draft, made by ``system``, of every ordinary billable order
    through the end of the previous month, once per month; Ekonomi is told, with a link.
    Legacy-period orders that have become billable are listed for a person, not billed (R7
    asks for a separate run that a person decides on)."""
    period_to = previous_month_end(today)
    _, legacy_to = billing.legacy_period()
    period_from = legacy_to + dt.timedelta(days=1)
    existing = BillingRun.objects.filter(created_by=SYSTEM, period_to=period_to).first()
    if existing is not None:
        return {"run_id": existing.pk, "status": "already_made", "period_to": period_to}
    title = f"eTjänstekort beställda till och med {swedish.month(period_to.replace(day=1))}"
    with as_system():
        drafted = billing.create_run(period_from, period_to, title=title, created_by=SYSTEM)
        legacy = _legacy_left()
    proposal = drafted.proposal
    run = drafted.run
    held: dict[str, int] = {}
    for entry in proposal.held_back:
        held[str(entry.reason)] = held.get(str(entry.reason), 0) + 1
    result: dict[str, Any] = {
        "run_id": run.pk,
        "period_from": period_from,
        "period_to": period_to,
        "documents": len(proposal.invoices),
        "orders": sum(len(invoice.order_pks) for invoice in proposal.invoices),
        "held_back": held,
        "legacy_billable": legacy,
    }
    lines = []
    if run.pk is not None:
        lines.append(
            f"Månadens utkast är gjort: körning {run.pk}, {run.title}, "
            f"{len(proposal.invoices)} dokument med "
            f"{swedish.counted(result['orders'], 'beställning', 'beställningar')} "
            f"({period_from} – {period_to}). Granska dokumenten och utfärda körningen:\n\n"
            f"{notify.link(f'/korningar/{run.pk}/')}"
        )
    else:
        lines.append(
            f"Inget att fakturera bland beställningarna {period_from} – {period_to}: ingen "
            "körning gjordes."
        )
    if held:
        lines.append(
            "Tillbakahållna beställningar: "
            + "; ".join(
                f"{HELD_BACK_LABELS.get(HeldBackReason(reason), reason)} {count}"
                for reason, count in sorted(held.items())
            )
            + "."
        )
    if legacy["documents"]:
        lines.append(
            f"I den äldre perioden ({legacy['period']}) har "
            f"{swedish.counted(legacy['orders'], 'beställning', 'beställningar')} "
            f"blivit fakturerbara för {legacy['accounts']}. De faktureras inte av månadens "
            "utkast: en person beslutar om en separat körning (kortfaktura bill --legacy)."
        )
    notify.notify(
        f"monthly-draft:{period_to:%Y-%m}",
        notify.EKONOMI,
        f"Kortfaktura: utkast för beställningar till och med {period_to} väntar"
        if run.pk is not None
        else f"Kortfaktura: inget att fakturera till och med {period_to}",
        "\n\n".join(lines) + "\n",
    )
    return result


def _legacy_left() -> dict[str, Any]:
    """What of the legacy period would be billed now (a preview: nothing stored)."""
    legacy_from, legacy_to = billing.legacy_period()
    proposal = billing.create_run(legacy_from, legacy_to, legacy=True, preview=True).proposal
    from kortfaktura.customers.models import BillingAccount

    codes = sorted(
        BillingAccount.objects.filter(
            pk__in={invoice.account_id for invoice in proposal.invoices}
        ).values_list("code", flat=True)
    )
    return {
        "period": f"{legacy_from} – {legacy_to}",
        "documents": len(proposal.invoices),
        "orders": sum(len(invoice.order_pks) for invoice in proposal.invoices),
        "accounts": ", ".join(codes[:20]) + (" …" if len(codes) > 20 else ""),
    }


def _tell_about_deliveries() -> int:
    """Fakturering is told once about each delivery that failed or was rejected (the
    notification's key is the delivery and its status)."""
    rows = list(
        Delivery.objects.select_related("invoice").filter(
            status__in=(Delivery.Status.FAILED, Delivery.Status.REJECTED)
        )
    )
    told_before = set(
        Notification.objects.filter(key__startswith="delivery-").values_list("key", flat=True)
    )
    told = 0
    for row in rows:
        key = f"delivery-{row.status}:{row.pk}"
        if key in told_before:
            continue
        number = row.invoice.number
        word = "avvisades" if row.status == Delivery.Status.REJECTED else "misslyckades"
        sent = notify.notify(
            key,
            notify.FAKTURERING,
            f"Kortfaktura: leveransen av dokument {number} {word}",
            f"Leveransen av dokument {number} via {row.get_channel_display()} till "
            f"{row.recipient} {word}: {row.error or row.response_code or 'ingen orsak angavs'}."
            f"\n\nSe felet och skicka om:\n\n{notify.link(f'/leveranser/?nummer={number}')}\n",
        )
        told += sent is not None
    return told


def deliver_issued() -> dict[str, Any]:
    """Hands every issued, undelivered document to its channel and retries failed ones whose
    backoff has passed; channels that are not set up wait (their setting is named)."""
    with as_system():
        report = delivery.deliver(skip_unconfigured=True)
    return {
        "delivered": len(report.delivered),
        "failed": len(report.failed),
        "unconfigured": report.unconfigured_text(),
        "notified": _tell_about_deliveries(),
    }


def read_receipts() -> dict[str, Any]:
    """Reads the access point's receipts and invoice responses; a rejection is told once."""
    with as_system():
        report = read_receipt_files()
    return {**report.counts(), "notified": _tell_about_deliveries()}


def chain_heads_text() -> str:
    """The hash chains' heads for the nightly notice (R19), so that a copy exists outside the
    system. Inside an open transaction (PostgreSQL links audit records at commit) the pending
    links are appended first, so the head includes the review's own record; the notice then
    writes nothing that takes the number series' lock, so holding the chain's lock is safe."""
    flush_pending_links()
    return chain.heads_text(chain.chain_heads())


def nightly_review(today: dt.date | None = None) -> dict[str, Any]:
    """The review of everything, every night. Granskare gets a notice every night with the
    chains' heads; its subject says when the review does not balance or something waits for a
    person (held-back orders, changes, gaps, documents that differ)."""
    from kortfaktura.review.services import make_review

    today = today or timezone.localdate()
    with as_system():
        review, _ = make_review()
        with transaction.atomic():
            record(
                "cycle.review",
                f"genomlysning {today}",
                {
                    "balanced": review.balanced,
                    "checksum": review.checksum,
                    "needs_attention": review.needs_attention(),
                    "dual_control": review.dual_control,
                },
            )
    result = {
        "balanced": review.balanced,
        "needs_attention": review.needs_attention(),
        "summary": review.summary(),
    }
    heads = chain_heads_text()
    # What needs a person: held-back orders, changes waiting for a decision, gaps, documents
    # that differ from their rows, anything that does not tie (remarks on customer data are
    # in the review, not in a nightly notice).
    needs_person = (
        review.held_back,
        review.pending_changes,
        review.gaps,
        review.invalid_documents,
        review.discrepancies,
    )
    # Every night, even when all is well: the chains' heads leave the system (R19), so that a
    # rewrite of the whole history is seen against the copy in Granskare's mailbox.
    body = [review.summary()]
    if review.control_note():
        body.append(review.control_note())
    body += [heads, notify.link("/genomlysning/")]
    if not review.balanced:
        subject = "Kortfaktura: genomlysningen går inte ihop"
    elif any(needs_person):
        subject = "Kortfaktura: genomlysningen har något som väntar på en person"
    else:
        subject = "Kortfaktura: genomlysningen stämmer – kedjornas huvuden"
    notify.notify(f"nightly-review:{today}", notify.GRANSKARE, subject, "\n\n".join(body) + "\n")
    result["heads"] = heads
    return result


def run_step(step: str, at: dt.datetime) -> dict[str, Any]:
    """Carries out ``step`` as due at ``at`` (the engine's task calls this)."""
    if step == "import":
        return import_inbox()
    if step == "monthly_draft":
        return monthly_draft(timezone.localtime(at).date())
    if step == "deliver":
        return deliver_issued()
    if step == "receipts":
        return read_receipts()
    if step == "payments":
        return payment_inbox()
    if step == "remind":
        return send_reminders(timezone.localtime(at).date())
    if step == "review":
        return nightly_review(timezone.localtime(at).date())
    raise ValueError(f"okänt steg {step!r}")
