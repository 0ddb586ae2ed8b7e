"""Reads for bookkeeping: the issued documents of a period as vouchers, their totals, and the
exports made (for the review's "exports vs documents")."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Min, Q

from kortfaktura.accounting.models import SieExport
from kortfaktura.accounting.vouchers import (
    Booking,
    Chart,
    Document,
    Line,
    PaymentEntry,
    book,
    book_payments,
)
from kortfaktura.billing.models import Invoice, InvoiceLine


def issued_documents(period_from: dt.date, period_to: dt.date) -> list[Document]:
    """Every document issued in the period (by issue date), by issue date then number."""
    rows = (
        Invoice.objects.filter(status="issued", issue_date__range=(period_from, period_to))
        .order_by("issue_date", "number")
        .values_list(
            "id", "kind", "number", "issue_date", "net", "vat", "rounding", "payable", "buyer",
            "credits__number", "vat_breakdown",
        )
    )  # fmt: skip
    documents: dict[int, Document] = {}
    # Read whole, not with .iterator(): on PostgreSQL a server-side cursor is planned for the
    # first rows and made reading the lines of 14,500 documents 100× slower (bench/sie.py).
    for pk, kind, number, issued, net, vat, rounding, payable, buyer, credits, stated in rows:
        assert number is not None and issued is not None  # issued ⇒ numbered (a constraint)
        documents[pk] = Document(
            kind, number, issued, net, vat, rounding, payable, buyer or {}, credits,
            vat_breakdown=stated,
        )  # fmt: skip
    if documents:
        lines = (
            InvoiceLine.objects.filter(
                invoice__status="issued", invoice__issue_date__range=(period_from, period_to)
            )
            .order_by("invoice_id", "position")
            .values_list("invoice_id", "net", "vat_rate", "revenue_account")
        )
        for invoice_id, net, rate, account in lines:
            document = documents.get(invoice_id)
            if document is not None:
                document.lines.append(Line(net, rate, account or ""))
    return list(documents.values())


def payments(
    period_from: dt.date, period_to: dt.date, export_id: int | None = None
) -> list[PaymentEntry]:
    """The payments of the period (by payment day) not yet booked, and those that arrived late:
    not booked, paid on a day an earlier export already covered (the file came after that
    export). A late payment is booked on the period's first day, its text saying when it was
    paid, so that the closed period stays as it was exported. With ``export_id``: those that
    export booked."""
    from kortfaktura.payments.models import Payment

    if export_id:
        rows = Payment.objects.filter(booked_in=export_id)
    else:
        rows = Payment.objects.filter(paid_on__lte=period_to, booked_in__isnull=True)
    covered = [
        (start, end)
        for start, end in SieExport.objects.filter(period_from__lt=period_from).values_list(
            "period_from", "period_to"
        )
    ]
    found = []
    for pk, paid_on, amount, kind, number, payer in rows.order_by("paid_on", "id").values_list(
        "pk", "paid_on", "amount", "kind", "invoice__number", "payer"
    ):
        late = paid_on < period_from
        if late and not export_id and not any(start <= paid_on <= end for start, end in covered):
            continue  # an earlier period that is not exported yet: booked by its own export
        what = "Avdrag" if kind == "deduction" else "Inbetalning"
        target = f"faktura {number}" if number else "ej matchad"
        text = f"{what} {pk} {target} {payer}".strip()
        if late:
            text += f" (betald {paid_on.isoformat()}, inläst efter den periodens export)"
        found.append(PaymentEntry(pk, max(paid_on, period_from), amount, text))
    return found


def booking(period_from: dt.date, period_to: dt.date, *, export_id: int | None = None) -> Booking:
    """The documents issued in the period and the payments made in it as vouchers; with
    ``export_id`` the payments that export booked (the review compares it with the export)."""
    from django.conf import settings

    chart = Chart.from_settings()
    result = book(issued_documents(period_from, period_to), chart, settings.SIE_SERIES)
    book_payments(
        result, payments(period_from, period_to, export_id), chart, settings.SIE_PAYMENT_SERIES
    )
    return result


@dataclass(frozen=True)
class BookedTotals:
    """What an export of the period would hold: ``debit`` is the sum of all positive amounts
    (= ``credit``, the sum of all negative ones), ``by_account`` the balance per account."""

    period_from: dt.date
    period_to: dt.date
    documents: int
    vouchers: int
    debit: Decimal
    credit: Decimal
    by_account: dict[str, Decimal] = field(default_factory=dict)


def booked_totals(
    period_from: dt.date, period_to: dt.date, export_id: int | None = None
) -> BookedTotals:
    """The sums of the vouchers the documents issued in the period give, with the payments
    ``export_id`` booked (``BookingError`` when one of them cannot be booked)."""
    result = booking(period_from, period_to, export_id=export_id)
    return BookedTotals(
        period_from,
        period_to,
        documents=result.documents,
        vouchers=len(result.vouchers),
        debit=result.debit,
        credit=result.credit,
        by_account=dict(sorted(result.by_account.items())),
    )


def exports_overlapping(period_from: dt.date, period_to: dt.date) -> list[SieExport]:
    """The SIE exports whose period shares a day with this one, oldest first, each with its
    figures (vouchers, documents, debit, credit, numbers, file and checksum)."""
    return list(
        SieExport.objects.filter(period_from__lte=period_to, period_to__gte=period_from).order_by(
            "made_at", "id"
        )
    )


# --- What has not been exported yet, and what an export would overlap (issue 21) -------------
#
# An export books every document issued in its period (by issue date) that was issued when it
# was made; a document issued later with a date in that period (a credit note the same day, a
# run issued with an earlier issue date) is not in it. Payments carry the export that booked
# them (``Payment.booked_in``).


def _in_export(export: SieExport) -> Q:
    """The documents ``export`` booked: issued in its period, and issued by the time it was
    made (documents issued before ``issued_at`` was kept count as issued before it)."""
    return Q(issue_date__range=(export.period_from, export.period_to)) & (
        Q(issued_at__isnull=True) | Q(issued_at__lte=export.made_at)
    )


def _exported(exports: list[SieExport]) -> Q:
    covered = Q(pk__in=[])
    for export in exports:
        covered |= _in_export(export)
    return covered


@dataclass(frozen=True)
class Unexported:
    """The documents and payments no SIE export has booked, and the issue or payment days they
    lie between (``None`` when everything is exported). ``late_payments`` came after the export
    of their payment day: whichever export comes next books them (see ``payments``), so they
    do not move the period."""

    documents: int
    payments: int
    late_payments: int
    first: dt.date | None
    last: dt.date | None


def unexported() -> Unexported:
    """What the next export should hold: the issued documents no export booked, and the
    payments no export booked."""
    from kortfaktura.payments.models import Payment

    exports = list(SieExport.objects.order_by("id"))
    documents = (
        Invoice.objects.filter(status="issued", issue_date__isnull=False)
        .exclude(_exported(exports))
        .aggregate(count=Count("id"), first=Min("issue_date"), last=Max("issue_date"))
    )
    covered = Q(pk__in=[])
    for export in exports:
        covered |= Q(paid_on__range=(export.period_from, export.period_to))
    waiting = Payment.objects.filter(booked_in__isnull=True).exclude(amount=0)
    paid = waiting.exclude(covered).aggregate(
        count=Count("id"), first=Min("paid_on"), last=Max("paid_on")
    )
    days = (documents["first"], documents["last"], paid["first"], paid["last"])
    known = [day for day in days if day is not None]
    return Unexported(
        documents=documents["count"],
        payments=paid["count"],
        late_payments=waiting.filter(covered).count() if exports else 0,
        first=min(known) if known else None,
        last=max(known) if known else None,
    )


@dataclass(frozen=True)
class Overlap:
    """An earlier export whose period shares days with a new one: the new export's documents
    it already booked, and the payments of the new period it booked."""

    export: SieExport
    documents: int
    payments: int

    @property
    def vouchers(self) -> int:
        return self.documents + self.payments


@dataclass(frozen=True)
class ExportPreview:
    """What an export of the period would write, counted before anything is written."""

    period_from: dt.date
    period_to: dt.date
    documents: int
    payments: int
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def vouchers(self) -> int:
        return self.documents + self.payments

    @property
    def booked_payments(self) -> int:
        """Payments of the period that an earlier export booked: the export is refused (R21)."""
        return sum(overlap.payments for overlap in self.overlaps)

    @property
    def repeated(self) -> int:
        """The documents an earlier export already booked (counted once per earlier export)."""
        return sum(overlap.documents for overlap in self.overlaps)


def preview(period_from: dt.date, period_to: dt.date) -> ExportPreview:
    """The vouchers an export of the period would hold (one per document issued in it, one per
    payment ``payments`` books) and the earlier exports it overlaps, with the vouchers each
    already holds: counted in SQL, without booking the documents."""
    from kortfaktura.payments.models import Payment

    issued = Invoice.objects.filter(status="issued", issue_date__range=(period_from, period_to))
    overlaps = []
    for export in exports_overlapping(period_from, period_to):
        overlaps.append(
            Overlap(
                export,
                documents=issued.filter(_in_export(export)).count(),
                payments=Payment.objects.filter(
                    booked_in=export, paid_on__range=(period_from, period_to)
                ).count(),
            )
        )
    return ExportPreview(
        period_from,
        period_to,
        documents=issued.count(),
        payments=sum(1 for entry in payments(period_from, period_to) if entry.amount != 0),
        overlaps=overlaps,
    )
