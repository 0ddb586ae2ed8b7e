"""Reading the Peppol inbox: receipts from the access point applied to deliveries (issue 11).

``read_receipts`` reads every file the access point has left in ``KORTFAKTURA_PEPPOL_INBOX``
(nothing to read when it is not set). A Message Level Response is matched by the SBDH instance
identifier it answers (``Delivery.instance_id``), an Invoice Response by the number of the
invoice or credit note it answers (the latest Peppol delivery of that document).

- MLR AB/AP: ``delivered``; MLR RE or Invoice Response RE: ``rejected`` with the code in
  ``response_code`` and the reason in ``error``; any other Invoice Response keeps or sets
  ``delivered`` and records the buyer's status (in_process, under_query, conditionally_accepted,
  accepted, paid) in ``response_status``.
- A receipt older than one already applied (by issue date; on the same date, by how far the
  document has come) is stored but changes nothing, so a late-arriving "in process" never undoes
  a rejection or a payment. A transport acknowledgement (MLR) never lifts a buyer's rejection.

Each file is handled in a transaction of its own and recorded as a ``Receipt`` (applied,
duplicate or quarantined) with an audit record; afterwards the file is moved to ``processed``
(or ``quarantine``) in the inbox. A crash between the commit and the move is harmless: the file
is read again next time and, by its SHA-256, recorded as a duplicate. A file that cannot be read
as a receipt or matches no delivery is moved to ``quarantine`` with the reason — never dropped;
put it back in the inbox to have it read again.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kortfaktura.audit.services import record
from kortfaktura.delivery import receipts
from kortfaktura.delivery.models import Channel, Delivery, Receipt
from kortfaktura.delivery.transport import Inbox, TransportError, open_inbox

PROCESSED = "processed"
QUARANTINE = "quarantine"

# How far a document has come; on the same issue date a receipt never moves it backwards.
RANK = {
    "delivered": 1,
    "in_process": 2,
    "under_query": 2,
    "conditionally_accepted": 3,
    "accepted": 4,
    "rejected": 5,
    "paid": 6,
}


@dataclass
class ReceiptReport:
    applied: list[Receipt] = field(default_factory=list)
    quarantined: list[Receipt] = field(default_factory=list)
    duplicates: list[Receipt] = field(default_factory=list)
    # Files that could not be read or moved (left for the next run), and an unreadable inbox.
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "applied": len(self.applied),
            "quarantined": len(self.quarantined),
            "duplicate": len(self.duplicates),
            "errors": list(self.errors),
        }


class _Quarantine(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_receipts(url: str | None = None) -> ReceiptReport:
    """Read, apply and file away every receipt in the inbox (``KORTFAKTURA_PEPPOL_INBOX``)."""
    report = ReceiptReport()
    url = settings.PEPPOL_INBOX if url is None else url
    if not url:
        return report
    try:
        inbox = open_inbox(url, settings.SSH_KEY)
        names = inbox.list()
    except TransportError as error:
        report.errors.append(f"inkorgen: {error.message}")
        return report
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            # A file name that is not UTF-8 cannot be recorded as it is: filed away under
            # quarantine with the reason, and the others are read.
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            try:
                inbox.move(name, QUARANTINE)
                report.errors.append(
                    f"{shown}: filnamnet är inte UTF-8 – flyttad till {QUARANTINE}/ utan att läsas"
                )
            except TransportError as error:
                report.errors.append(f"{shown}: {error.message}")
            continue
        _read_one(inbox, name, report)
    return report


def _read_one(inbox: Inbox, name: str, report: ReceiptReport) -> None:
    try:
        content = inbox.read(name)
    except TransportError as error:
        report.errors.append(f"{name}: {error.message}")
        return
    digest = hashlib.sha256(content).hexdigest()
    try:
        row = _record(name, digest, content)
    except IntegrityError:  # another worker applied the same file meanwhile
        row = _duplicate(name, digest)
    if row.outcome == Receipt.Outcome.APPLIED:
        report.applied.append(row)
    elif row.outcome == Receipt.Outcome.DUPLICATE:
        report.duplicates.append(row)
    else:
        report.quarantined.append(row)
    folder = QUARANTINE if row.outcome == Receipt.Outcome.QUARANTINED else PROCESSED
    try:
        inbox.move(name, folder)
    except TransportError as error:
        # Left in the inbox: read again next time, and then a duplicate (or quarantined again).
        if row.outcome != Receipt.Outcome.DUPLICATE:
            report.errors.append(f"{name}: {error.message}")


def _duplicate(name: str, digest: str) -> Receipt:
    with transaction.atomic():
        original = Receipt.objects.filter(sha256=digest, outcome=Receipt.Outcome.APPLIED).first()
        row = Receipt.objects.create(
            file_name=name[:255],
            sha256=digest,
            outcome=Receipt.Outcome.DUPLICATE,
            delivery=original.delivery if original else None,
            kind=original.kind if original else "",
            code=original.code if original else "",
            status=original.status if original else "",
            refers_to=original.refers_to if original else "",
            issue_date=original.issue_date if original else None,
            sender=original.sender if original else "",
            reason=f"samma fil som kvitto {original.pk} ({original.file_name})" if original else "",
        )
        record(
            "delivery.receipt_duplicate",
            f"kvittofil {name}",
            {"sha256": digest, "receipt": row.pk, "original": original.pk if original else None},
        )
    return row


def _record(name: str, digest: str, content: bytes) -> Receipt:
    with transaction.atomic():
        if Receipt.objects.filter(sha256=digest, outcome=Receipt.Outcome.APPLIED).exists():
            raise IntegrityError("duplicate")  # handled as a duplicate by the caller
        parsed: receipts.Receipt | None = None
        try:
            try:
                parsed = receipts.parse_receipt(content)
            except receipts.ReceiptError as error:
                raise _Quarantine(str(error)) from None
            delivery = _match(parsed)
        except _Quarantine as quarantine:
            return _quarantine(name, digest, parsed, quarantine.reason)
        changed = _apply(delivery, parsed)
        row = Receipt.objects.create(
            **_fields(name, digest, parsed),
            delivery=delivery,
            changed=changed,
            outcome=Receipt.Outcome.APPLIED,
        )
        record(
            "delivery.receipt",
            f"{delivery.invoice.get_kind_display()} {delivery.invoice.number}",
            {
                "file": name,
                "sha256": digest,
                "receipt": row.pk,
                "delivery": delivery.pk,
                "kind": parsed.kind,
                "code": parsed.code,
                "status": parsed.status,
                "reason": parsed.reason,
                "issue_date": parsed.issue_date,
                "changed": changed,
                "delivery_status": delivery.status,
                "response_status": delivery.response_status,
            },
        )
        return row


def _fields(name: str, digest: str, parsed: receipts.Receipt | None) -> dict[str, Any]:
    values: dict[str, Any] = {"file_name": name[:255], "sha256": digest}
    if parsed is not None:
        values.update(
            kind=parsed.kind,
            code=parsed.code[:8],
            status=parsed.status,
            reason=parsed.reason,
            refers_to=(parsed.refers_to_document or "")[:200],
            issue_date=parsed.issue_date,
            sender=(parsed.sender or "")[:200],
        )
    return values


def _quarantine(name: str, digest: str, parsed: receipts.Receipt | None, reason: str) -> Receipt:
    values = _fields(name, digest, parsed)
    if parsed is not None and parsed.reason:
        reason = f"{reason} (kvittots orsak: {parsed.reason})"
    values["reason"] = reason
    row = Receipt.objects.create(**values, outcome=Receipt.Outcome.QUARANTINED)
    record(
        "delivery.receipt_quarantined",
        f"kvittofil {name}",
        {"file": name, "sha256": digest, "receipt": row.pk, "reason": reason},
    )
    return row


def _locked(rows: Any) -> Delivery | None:
    rows = rows.select_related("invoice")
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(of=("self",))
    found: Delivery | None = rows.first()
    return found


def _match(parsed: receipts.Receipt) -> Delivery:
    """The Peppol delivery the receipt answers, locked; else ``_Quarantine`` with the reason."""
    peppol = Delivery.objects.filter(channel=Channel.PEPPOL)
    if parsed.kind == "mlr":
        reference = (parsed.refers_to_instance or "").strip()
        delivery = None
        try:
            instance = uuid.UUID(reference.removesuffix(".xml"))
        except ValueError:
            instance = None
        if instance is not None:
            delivery = _locked(peppol.filter(instance_id=instance))
        if delivery is None:
            raise _Quarantine(
                "Message Level Response för meddelandet "
                f"{reference or '(utan referens)'} som inte finns bland Peppol-leveranserna."
            )
        return delivery
    reference = (parsed.refers_to_document or "").strip()
    delivery = None
    if reference.isdigit() and len(reference) <= 18:
        # The latest Peppol delivery of the document (a resend, if there is one) that was sent.
        rows = peppol.filter(invoice__number=int(reference))
        sent = rows.filter(attempts__gt=0)
        delivery = _locked((sent if sent.exists() else rows).order_by("-id"))
    if delivery is None:
        raise _Quarantine(
            f"Invoice Response för dokument {reference or '(utan nummer)'} som inte har "
            "skickats via Peppol."
        )
    if parsed.sender and delivery.recipient and parsed.sender != delivery.recipient:
        raise _Quarantine(
            f"Invoice Response för dokument {reference} kommer från {parsed.sender}, men "
            f"dokumentet skickades till {delivery.recipient}."
        )
    return delivery


def _key(issue_date: date | None, status: str) -> tuple[date, int]:
    return (issue_date or date.min, RANK.get(status, 0))


def _apply(delivery: Delivery, parsed: receipts.Receipt) -> bool:
    """Set the delivery's status from the receipt unless a newer one was applied; changed?"""
    latest = max(
        (
            _key(row.issue_date, row.status)
            for row in delivery.receipts.filter(outcome=Receipt.Outcome.APPLIED, changed=True)
        ),
        default=None,
    )
    if latest is not None and _key(parsed.issue_date, parsed.status) < latest:
        return False  # older than what is recorded: never moves the document backwards
    status = delivery.status
    error = delivery.error
    code = delivery.response_code
    response_status = delivery.response_status
    if parsed.status == "rejected":
        status, code = Delivery.Status.REJECTED, parsed.code
        error = parsed.reason or "avvisad utan angiven orsak"
        if parsed.kind == "invoice_response":
            response_status = parsed.status
    elif parsed.kind == "mlr":
        if delivery.status == Delivery.Status.REJECTED:
            return False  # a transport acknowledgement does not lift a rejection
        status, code, error = Delivery.Status.DELIVERED, parsed.code, ""
    else:
        status, code, error = Delivery.Status.DELIVERED, parsed.code, ""
        response_status = parsed.status
    delivery.status = status
    delivery.error = error
    delivery.response_code = code
    delivery.response_status = response_status
    delivery.response_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.save(
        update_fields=[
            "status",
            "error",
            "response_code",
            "response_status",
            "response_at",
            "next_attempt_at",
            "updated_at",
        ]
    )
    return True
