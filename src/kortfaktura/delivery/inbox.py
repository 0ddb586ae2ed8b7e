"""Reading the Peppol inbox: receipts from the access point applied to deliveries (issues 11, 17).

``read_receipts`` reads every file the access point has left in ``KORTFAKTURA_PEPPOL_INBOX``
(nothing to read when it is not set). Only what was handed over can be delivered (R20): a receipt
counts only from the party that may send it and only for a delivery that was handed over
(``sent``, or already ``delivered``/``rejected`` by an earlier receipt – never ``queued``,
``sending`` or ``failed``, which keep being handed over and retried as if nothing had come).

- A Message Level Response counts only from the access point, ``KORTFAKTURA_PEPPOL_AP_ID`` (its
  sender is the SBDH's Sender when it comes wrapped, else its SenderParty); without that setting
  every MLR is quarantined. It is matched by the SBDH instance identifier it answers
  (``Delivery.instance_id``).
- An Invoice Response counts only in a verified SBDH: valid against the SBDH 1.3 schema (when
  the official artefacts are there), one Sender that is the buyer's endpoint the document was
  delivered to (``Delivery.recipient``), one Receiver that is the seller (``PEPPOL_SENDER``),
  a DocumentIdentification of an ApplicationResponse, and a UBL whose SenderParty and
  ReceiverParty are the same two. It is matched by the number of the invoice or credit note it
  answers (the latest Peppol delivery of that document that was handed over).
- A receipt issued after the day it arrived is refused: a date in the future would outrank
  every real answer.

MLR AB/AP: ``delivered``; MLR RE or Invoice Response RE: ``rejected`` with the code in
``response_code`` and the reason in ``error``; any other Invoice Response keeps or sets
``delivered`` and records the buyer's status (in_process, under_query, conditionally_accepted,
accepted, paid) in ``response_status``. The receipts of a delivery count in the order of their
issue date and, on the same issue date, of their arrival: a receipt issued before one already
applied is stored but changes nothing, and on the same date the last to arrive counts (the buyer
changed its mind). A transport acknowledgement (MLR) never lifts a buyer's rejection.

Each file is handled in a transaction of its own and recorded as a ``Receipt`` (applied,
duplicate or quarantined) with an audit record; afterwards the file is moved to ``processed``
(or ``quarantine``) in the inbox. A crash between the commit and the move is harmless: the file
is read again next time and, by its SHA-256, recorded as a duplicate. A file that cannot be
moved is marked ``left_in_inbox`` and, while it stays there, is not recorded again (the move is
tried again and its error reported once per run). A file that cannot be read as a receipt, that
cannot be trusted or that matches no delivery handed over is moved to ``quarantine`` with the
reason – never dropped; put it back in the inbox to have it read again. Links, special files and
files larger than ``KORTFAKTURA_INBOX_MAX_BYTES`` are not read at all: the entry itself goes to
``quarantine`` and is recorded without a checksum.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from lxml import etree

from kortfaktura.audit.services import record
from kortfaktura.delivery import receipts, sbdh
from kortfaktura.delivery.models import Channel, Delivery, Receipt
from kortfaktura.delivery.transport import Inbox, RefusedFile, TransportError, open_inbox

PROCESSED = "processed"
QUARANTINE = "quarantine"

# A delivery whose document reached the access point: only such a delivery can be answered.
HANDED_OVER = (Delivery.Status.SENT, Delivery.Status.DELIVERED, Delivery.Status.REJECTED)


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
    # Loaded once per reading: the schema object is not shared between threads.
    schema = sbdh.schema(settings.PEPPOL_RULES_DIR)
    for name in names:
        if name in (PROCESSED, QUARANTINE):
            continue  # where read files go; never read, even when something made it a file
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
        _read_one(inbox, name, report, schema)
    return report


def _read_one(
    inbox: Inbox, name: str, report: ReceiptReport, schema: etree.XMLSchema | None
) -> None:
    try:
        content = inbox.read(name, settings.INBOX_MAX_BYTES)
    except RefusedFile as refused:
        # Nothing of it was read: recorded without a checksum ("" never matches a file read).
        row, new = _refused(name, refused.message)
    except TransportError as error:
        report.errors.append(f"{name}: {error.message}")
        return
    else:
        digest = hashlib.sha256(content).hexdigest()
        try:
            row, new = _record(name, digest, content, schema)
        except IntegrityError:  # another worker applied the same file meanwhile
            row, new = _duplicate(name, digest), True
    if new:
        if row.outcome == Receipt.Outcome.APPLIED:
            report.applied.append(row)
        elif row.outcome == Receipt.Outcome.DUPLICATE:
            report.duplicates.append(row)
        else:
            report.quarantined.append(row)
    folder = QUARANTINE if row.outcome == Receipt.Outcome.QUARANTINED else PROCESSED
    left = Receipt.objects.filter(file_name=row.file_name, sha256=row.sha256, left_in_inbox=True)
    try:
        inbox.move(name, folder)
    except TransportError as error:
        # Left in the inbox and read again next time: recognised by name and checksum, so it is
        # not recorded again while it stays there; the error is reported once per reading.
        report.errors.append(f"{name}: {error.message}")
        if not row.left_in_inbox:
            Receipt.objects.filter(pk=row.pk).update(left_in_inbox=True)
        return
    left.update(left_in_inbox=False)


def _left(name: str, digest: str) -> Receipt | None:
    """The latest record of this very file (name and checksum) that could not be moved out of
    the inbox: the file was read before and is still there."""
    found: Receipt | None = (
        Receipt.objects.filter(file_name=name[:255], sha256=digest, left_in_inbox=True)
        .order_by("-id")
        .first()
    )
    return found


def _refused(name: str, reason: str) -> tuple[Receipt, bool]:
    """A link, special file or too large file: quarantined unread (once while it stays)."""
    with transaction.atomic():
        left = _left(name, "")
        if left is not None:
            return left, False
        return _quarantine(name, "", None, reason), True


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


def _record(
    name: str, digest: str, content: bytes, schema: etree.XMLSchema | None
) -> tuple[Receipt, bool]:
    """The receipt applied, quarantined or (``IntegrityError``) a duplicate, and whether it is
    a new record; a file still in the inbox after an earlier reading gives its earlier record."""
    with transaction.atomic():
        left = _left(name, digest)
        if Receipt.objects.filter(sha256=digest, outcome=Receipt.Outcome.APPLIED).exists():
            if left is not None:
                return left, False
            raise IntegrityError("duplicate")  # handled as a duplicate by the caller
        parsed: receipts.Receipt | None = None
        try:
            try:
                parsed = receipts.parse_receipt(content, envelope_schema=schema)
            except receipts.ReceiptError as error:
                raise _Quarantine(str(error)) from None
            _check_sender(parsed)
            delivery = _match(parsed)
        except _Quarantine as quarantine:
            if left is not None and left.outcome == Receipt.Outcome.QUARANTINED:
                return left, False
            return _quarantine(name, digest, parsed, quarantine.reason), True
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
                "sender": parsed.sender,
                "changed": changed,
                "delivery_status": delivery.status,
                "response_status": delivery.response_status,
            },
        )
        return row, True


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


def _same(endpoint: str | None, other: str | None) -> bool:
    """Two Peppol participant ids (scheme:id) are the same (they are case-insensitive)."""
    return (
        bool(endpoint and other)
        and (endpoint or "").strip().casefold() == (other or "").strip().casefold()
    )


def _name(parsed: receipts.Receipt) -> str:
    return "Message Level Response" if parsed.kind == "mlr" else "Invoice Response"


def _check_sender(parsed: receipts.Receipt) -> None:
    """``_Quarantine`` unless the receipt is dated and comes from who may send it, to us."""
    name = _name(parsed)
    arrived = timezone.localdate()
    if parsed.issue_date is None:
        raise _Quarantine(
            f"{name} utan giltigt utfärdandedatum (IssueDate): det går inte att avgöra om det "
            "är nyare än kvitton som redan kommit."
        )
    if parsed.issue_date > arrived:
        raise _Quarantine(
            f"{name} utfärdat {parsed.issue_date.isoformat()}, efter dagen det kom in "
            f"({arrived.isoformat()}): ett kvitto från framtiden räknas inte. Fråga avsändaren "
            "om datumet."
        )
    envelope = parsed.envelope
    if envelope is not None and envelope.problems:
        raise _Quarantine(
            f"{name} i ett SBDH-kuvert som inte går att lita på: {' '.join(envelope.problems)}"
        )
    seller = settings.PEPPOL_SENDER
    if envelope is not None and not _same(envelope.receiver, seller):
        raise _Quarantine(
            f"{name} är adresserat till {envelope.receiver} i SBDH-kuvertet, inte till "
            f"säljaren {seller} (KORTFAKTURA_PEPPOL_SENDER)."
        )
    if parsed.kind == "mlr":
        access_point = settings.PEPPOL_AP_ID
        if not access_point:
            raise _Quarantine(
                "Message Level Response kan inte kontrolleras: accesspunktens Peppol-id är "
                "inte inställt. Ange det i KORTFAKTURA_PEPPOL_AP_ID (schema:id, t.ex. "
                "0088:7300010000001) och lägg tillbaka filen i inkorgen."
            )
        if not _same(parsed.sender, access_point):
            raise _Quarantine(
                f"Message Level Response från {parsed.sender or 'okänd avsändare'}, men bara "
                f"accesspunkten {access_point} (KORTFAKTURA_PEPPOL_AP_ID) får skicka sådana."
            )
        return
    if envelope is None:
        raise _Quarantine(
            "Invoice Response saknar SBDH-kuvert: ett fakturasvar räknas bara i "
            "accesspunktens SBDH-kuvert från köparens Peppol-adress. Be köparen skicka svaret "
            "via Peppol."
        )
    for role, party, enveloped in (
        ("avsändare (SenderParty)", parsed.party_sender, envelope.sender),
        ("mottagare (ReceiverParty)", parsed.party_receiver, envelope.receiver),
    ):
        if not _same(party, enveloped):
            raise _Quarantine(
                f"Invoice Response vars {role} {party or 'saknas'} inte är SBDH-kuvertets "
                f"{enveloped}: dokumentet och kuvertet säger olika."
            )


def _locked(rows: Any) -> Delivery | None:
    rows = rows.select_related("invoice")
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(of=("self",))
    found: Delivery | None = rows.first()
    return found


def _not_handed_over(parsed: receipts.Receipt, delivery: Delivery) -> _Quarantine:
    return _Quarantine(
        f"{_name(parsed)} för {delivery.invoice.get_kind_display()} {delivery.invoice.number}, "
        "som inte har lämnats över till accesspunkten (leveransen är "
        f"{delivery.get_status_display()}): bara det som lämnats över kan levereras. "
        "Leveransen lämnas över eller försöks igen som vanligt; lägg tillbaka filen i inkorgen "
        "när den har skickats."
    )


def _match(parsed: receipts.Receipt) -> Delivery:
    """The Peppol delivery the receipt answers, handed over and locked; else ``_Quarantine``."""
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
        if delivery.status not in HANDED_OVER:
            raise _not_handed_over(parsed, delivery)
        return delivery
    reference = (parsed.refers_to_document or "").strip()
    rows = peppol.none()
    if reference.isdigit() and len(reference) <= 18:
        rows = peppol.filter(invoice__number=int(reference))
    # The latest Peppol delivery of the document (a resend, if there is one) that was handed
    # over: a resend still waiting has not reached the buyer, the earlier one has.
    delivery = _locked(rows.filter(status__in=HANDED_OVER).order_by("-id"))
    if delivery is None:
        latest = rows.select_related("invoice").order_by("-id").first()
        if latest is not None:
            raise _not_handed_over(parsed, latest)
        raise _Quarantine(
            f"Invoice Response för dokument {reference or '(utan nummer)'} som inte har "
            "skickats via Peppol."
        )
    envelope = parsed.envelope
    sender = envelope.sender if envelope is not None else None
    if not _same(sender, delivery.recipient):
        raise _Quarantine(
            f"Invoice Response för dokument {reference} kommer från {sender}, men "
            f"dokumentet skickades till {delivery.recipient or '(ingen adress)'}."
        )
    return delivery


def _apply(delivery: Delivery, parsed: receipts.Receipt) -> bool:
    """Set the delivery's status from the receipt unless one issued later was applied; changed?

    Receipts count in the order (issue date, arrival): this one arrived last, so it counts
    unless an applied receipt has a later issue date."""
    latest = delivery.receipts.filter(outcome=Receipt.Outcome.APPLIED, changed=True).aggregate(
        latest=Max("issue_date")
    )["latest"]
    if latest is not None and parsed.issue_date is not None and parsed.issue_date < latest:
        return False  # issued before what is recorded: never moves the document backwards
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
