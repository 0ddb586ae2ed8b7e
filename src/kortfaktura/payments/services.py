"""Writing payments (R21): import a payment file exactly once, assign or mark for refund.

Every write is one transaction with its audit record (R19). A refused file stores nothing.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kortfaktura import printable, swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.billing.models import Invoice
from kortfaktura.imports.personal import mask
from kortfaktura.payments import formats, matching
from kortfaktura.payments.models import Dispute, Payment, PaymentFile

CHUNK = 500
BATCH = 5000
LARGEST_AMOUNT = Decimal("999999999999.99")  # Payment.amount: 14 digits, 2 decimals
LARGEST_FILE_AMOUNT = Decimal("99999999999999.99")  # PaymentFile.amount: 16 digits


REASON_LENGTH = 1000  # a person's reason, as the audit trail and the pages keep it


class PaymentError(Exception):
    """A refusal a person can act on, in Swedish."""


@dataclass
class ImportResult:
    file: str
    format: str
    file_id: int | None
    payments: int
    matched: int
    unmatched: int
    duplicates: int
    amount: Decimal
    already_imported: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "file_id": self.file_id,
            "payments": self.payments,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "duplicates": self.duplicates,
            "amount": f"{self.amount:.2f}",
            "already_imported": self.already_imported,
        }


def document_indexes() -> tuple[dict[str, int], dict[int, int]]:
    """Issued invoices by OCR number and by document number. Only invoices are paid: a credit
    note or an internal charge (settled by internal bookkeeping, R22) is never matched."""
    by_ocr: dict[str, int] = {}
    by_number: dict[int, int] = {}
    rows = Invoice.objects.filter(status=Invoice.Status.ISSUED, kind=Invoice.Kind.INVOICE)
    for pk, number, ocr in rows.values_list("pk", "number", "ocr").iterator(chunk_size=5000):
        if matching.valid_ocr(ocr):  # so that a reference found here has a valid check digit
            by_ocr[ocr] = pk
        if number is not None:  # issued documents always have one (a database check)
            by_number[number] = pk
    return by_ocr, by_number


def import_payments(path: Path, *, name: str | None = None) -> ImportResult:
    """Read, check, match and store one payment file; the same content again changes nothing."""
    content = path.read_bytes()
    return import_content(content, name or path.name)


def import_content(content: bytes, name: str) -> ImportResult:
    digest = hashlib.sha256(content).hexdigest()
    earlier = PaymentFile.objects.filter(sha256=digest).first()
    if earlier is not None:
        return _already(earlier, name)
    try:
        parsed = formats.read(content, bankgiro=str(settings.SELLER["bankgiro"]))
    except formats.PaymentFileError as error:
        raise PaymentError(f"{name}: {error}") from None
    _refuse_impossible_amounts(parsed, name)
    try:
        return _store(parsed, content, digest, name)
    except IntegrityError:
        # Another import of the same file, or of a file with the same payments, committed
        # first: the database's constraints refused ours whole. Read again: what is stored now
        # decides, and nothing is booked twice.
        earlier = PaymentFile.objects.filter(sha256=digest).first()
        if earlier is not None:
            return _already(earlier, name)
        return _store(parsed, content, digest, name)


def _refuse_impossible_amounts(parsed: formats.PaymentFile, name: str) -> None:
    """Amounts the database cannot hold (``Payment.amount``, ``PaymentFile.amount``) are no
    payments GITS gets: the file is wrong, and refused whole before anything is stored."""
    total = Decimal("0.00")
    for read in parsed.payments:
        total += read.amount
        if abs(read.amount) > LARGEST_AMOUNT:
            raise PaymentError(
                f"{name}: rad {read.line}: beloppet {swedish.money(read.amount)} är större än "
                f"{swedish.money(LARGEST_AMOUNT)}, det största en betalning kan vara – filen är "
                "felaktig; be banken om en rättad fil"
            )
    if abs(total) > LARGEST_FILE_AMOUNT:
        raise PaymentError(
            f"{name}: betalningarna är tillsammans {swedish.money(total)}, mer än en fil kan "
            "hålla – filen är felaktig; be banken om en rättad fil"
        )


def _already(earlier: PaymentFile, name: str) -> ImportResult:
    return ImportResult(
        file=name,
        format=earlier.format,
        file_id=earlier.pk,
        payments=0,
        matched=0,
        unmatched=0,
        duplicates=earlier.payments + earlier.duplicates,
        amount=Decimal("0.00"),
        already_imported=True,
    )


def _existing_keys(source: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` are stored already; plain SQL in chunks (the ORM's lookup preparation
    cost more than the query for 100,000 keys)."""
    found: set[str] = set()
    table = Payment._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            cursor.execute(
                f"SELECT external_id FROM {table} WHERE source = %s AND external_id IN "
                f"({', '.join(['%s'] * len(chunk))})",
                [source, *chunk],
            )
            found.update(row[0] for row in cursor.fetchall())
    return found


def _store(parsed: formats.PaymentFile, content: bytes, digest: str, name: str) -> ImportResult:
    actor = current_actor()
    with transaction.atomic():
        existing = _existing_keys(parsed.format, [p.key for p in parsed.payments])
        by_ocr, by_number = document_indexes()
        stored = PaymentFile.objects.create(
            format=parsed.format,
            file_name=name[:255],
            sha256=digest,
            bankgiro=parsed.bankgiro,
            created=parsed.created[:40],
            deposits=[
                {
                    "paid_on": deposit.paid_on.isoformat() if deposit.paid_on else None,
                    "serial": deposit.serial,
                    "amount": f"{deposit.amount:.2f}",
                    "count": deposit.count,
                }
                for deposit in parsed.deposits
            ],
            imported_by=actor,
        )
        rows: list[tuple[Any, ...]] = []
        matched = duplicates = 0
        amount = Decimal("0.00")
        sqlite = connection.vendor == "sqlite"
        for read in parsed.payments:
            if read.key in existing:
                duplicates += 1
                continue
            invoice_id, how = matching.match(read.texts, by_ocr, by_number)
            matched += invoice_id is not None
            amount += read.amount
            rows.append(
                (
                    stored.pk,
                    parsed.format,
                    read.key[:64],
                    read.line,
                    read.kind,
                    read.paid_on.isoformat() if sqlite else read.paid_on,
                    str(read.amount) if sqlite else read.amount,
                    read.reference[:140],
                    json.dumps(
                        [[reference, f"{value:.2f}"] for reference, value in read.extra_references]
                    )
                    if read.extra_references
                    else "[]",
                    # Matched above on the texts as read; kept without personnummer (R16).
                    mask(read.information),
                    mask(read.payer)[:140],
                    read.payer_orgnr[:20],
                    read.payer_account[:20],
                    Payment.Status.MATCHED if invoice_id else Payment.Status.UNMATCHED,
                    invoice_id,
                    how,
                )
            )
        _insert(rows)
        stored.payments, stored.duplicates, stored.amount = len(rows), duplicates, amount
        stored.save(update_fields=["payments", "duplicates", "amount"])
        record(
            "payments.imported",
            f"betalningsfil {stored.pk}",
            {
                "file": name,
                "sha256": digest,
                "format": parsed.format,
                "payments": len(rows),
                "matched": matched,
                "unmatched": len(rows) - matched,
                "duplicates": duplicates,
                "amount": f"{amount:.2f}",
            },
            actor=actor,
        )
    return ImportResult(
        file=name,
        format=parsed.format,
        file_id=stored.pk,
        payments=len(rows),
        matched=matched,
        unmatched=len(rows) - matched,
        duplicates=duplicates,
        amount=amount,
    )


COLUMNS = (
    "file_id", "source", "external_id", "line", "kind", "paid_on", "amount", "reference",
    "extra_references", "information", "payer", "payer_orgnr", "payer_account", "status",
    "invoice_id", "matched_by", "reason", "decided_by",
)  # fmt: skip


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """The file's new payments without the ORM: a model instance and the ORM's per-value
    preparation cost more than the insert itself (bench/payments.py: 100,000 payments).
    PostgreSQL takes them by ``COPY``, SQLite by ``executemany``. The table's constraints still
    decide: a payment already stored fails the whole import (``payment_booked_once``)."""
    table = Payment._meta.db_table
    columns = ", ".join(COLUMNS[:-2])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own COPY, with its errors turned into Django's (a payment stored
            # meanwhile by another import is an IntegrityError that import_content handles).
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(
                    f"COPY {table} ({columns}, reason, decided_by) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row((*row, "", ""))
            return
        placeholders = ", ".join(["%s"] * (len(COLUMNS) - 2))
        sql = f"INSERT INTO {table} ({columns}, reason, decided_by) VALUES ({placeholders}, '', '')"
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])


def _reason(reason: str) -> str:
    """A person's reason, as the trail keeps it: something a reader can see, without the
    invisible characters that make a text show as something else."""
    text = " ".join((reason or "").split())
    if not printable.visible(text):
        raise PaymentError(
            "motiveringen är tom – skriv varför, t.ex. 'Kunden ringde och angav fakturan'"
        )
    if unfit := printable.problem(text):
        raise PaymentError(f"motiveringen {unfit} – skriv texten utan det")
    if len(text) > REASON_LENGTH:
        raise PaymentError(
            f"motiveringen är {len(text)} tecken lång – skriv den kortare, högst {REASON_LENGTH} "
            "tecken (det som inte ryms skulle annars gå förlorat)"
        )
    return text


def _open_payment(payment_id: int) -> Payment:
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise PaymentError(f"betalning {payment_id} finns inte (se kortfaktura payments list)")
    if payment.status not in (Payment.Status.UNMATCHED, Payment.Status.REFUND):
        shown = payment.invoice.number if payment.invoice else ""
        raise PaymentError(
            f"betalning {payment_id} är redan kopplad till faktura {shown} "
            f"({payment.get_status_display()}); bara en betalning som inte är kopplad kan "
            "kopplas eller markeras för återbetalning"
        )
    return payment


def assign(payment_id: int, number: int, reason: str) -> Payment:
    """A person matches an unmatched payment (or one marked for refund) to an issued invoice."""
    text = _reason(reason)
    with transaction.atomic():
        payment = _open_payment(payment_id)
        invoice = _issued_invoice(number, "betalas inte")
        before = payment.status
        payment.status, payment.invoice, payment.matched_by = (
            Payment.Status.ASSIGNED, invoice, "person"
        )  # fmt: skip
        payment.reason, payment.decided_by, payment.decided_at = (
            text, current_actor(), timezone.now()
        )  # fmt: skip
        payment.save()
        record(
            "payment.assigned",
            f"betalning {payment.pk}",
            {
                "status": {"before": before, "after": payment.status},
                "invoice": {"before": None, "after": number},
                "amount": f"{payment.amount:.2f}",
                "reason": text,
            },
        )
    return payment


def refund(payment_id: int, reason: str) -> Payment:
    """A person marks an unmatched payment to be paid back."""
    text = _reason(reason)
    with transaction.atomic():
        payment = _open_payment(payment_id)
        if payment.status == Payment.Status.REFUND:
            raise PaymentError(f"betalning {payment_id} är redan markerad för återbetalning")
        payment.status, payment.matched_by = Payment.Status.REFUND, ""
        payment.reason, payment.decided_by, payment.decided_at = (
            text, current_actor(), timezone.now()
        )  # fmt: skip
        payment.save()
        record(
            "payment.refund",
            f"betalning {payment.pk}",
            {
                "status": {"before": "unmatched", "after": "refund"},
                "amount": f"{payment.amount:.2f}",
                "reason": text,
            },
        )
    return payment


def _issued_invoice(number: int, not_for_others: str) -> Invoice:
    """The issued invoice ``number`` (not a credit note or an internal charge, which
    ``not_for_others``, e.g. "betalas inte"), or a refusal saying where to look."""
    invoice = Invoice.objects.filter(
        number=number, status=Invoice.Status.ISSUED, kind=Invoice.Kind.INVOICE
    ).first()
    if invoice is None:
        raise PaymentError(
            f"faktura {number} finns inte bland utfärdade fakturor (kreditfakturor och interna "
            f"debiteringar {not_for_others}); se kortfaktura invoice list"
        )
    return invoice


def open_dispute(number: int, reason: str) -> Dispute:
    """A person notes that the customer disputes invoice ``number``: no reminder while it is
    open (R23)."""
    text = _reason(reason)
    with transaction.atomic():
        invoice = _issued_invoice(number, "påminns aldrig")
        if Dispute.objects.filter(invoice=invoice, closed_at__isnull=True).exists():
            raise PaymentError(f"faktura {number} är redan markerad som bestridd")
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    invoice=invoice, reason=text, opened_by=current_actor()
                )
        except IntegrityError:  # another person marked it at the same moment
            raise PaymentError(f"faktura {number} är redan markerad som bestridd") from None
        record("invoice.disputed", f"faktura {number}", {"reason": text})
    return dispute


def close_dispute(number: int, reason: str) -> Dispute:
    """A person notes that the dispute of invoice ``number`` is settled: reminders may follow
    again, as R23 says, from the next daily run."""
    text = _reason(reason)
    with transaction.atomic():
        invoice = _issued_invoice(number, "påminns aldrig")
        dispute = (
            Dispute.objects.select_for_update()
            .filter(invoice=invoice, closed_at__isnull=True)
            .first()
        )
        if dispute is None:
            raise PaymentError(f"faktura {number} är inte markerad som bestridd")
        dispute.closed_by, dispute.closed_at, dispute.close_reason = (
            current_actor(), timezone.now(), text
        )  # fmt: skip
        dispute.save(update_fields=["closed_by", "closed_at", "close_reason"])
        record(
            "invoice.dispute_closed",
            f"faktura {number}",
            {"reason": text, "opened_by": dispute.opened_by, "opened_reason": dispute.reason},
        )
    return dispute
