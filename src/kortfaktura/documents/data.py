"""What a rendered invoice or credit note shows: one read of an issued document and its
specification, shared by every renderer (UBL, PDF, XLSX, CSV).

Everything about seller and buyer comes from the snapshot taken when the document was issued
(DOMAIN.md R13). The specification lists every order behind the document (R6); a holder's name and
HSA-id appear only when the order belongs to the document's customer (R16).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from kortfaktura.billing.core import cents, internal_totals, month_end, stated_vat_by_rate
from kortfaktura.billing.facts import date_text, day_parser
from kortfaktura.billing.models import (
    CREDIT_KINDS,
    INTERNAL_KINDS,
    Invoice,
    InvoiceItem,
    InvoiceLine,
)
from kortfaktura.orders.models import Order

ITEMS = InvoiceItem._meta.db_table
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class LineData:
    position: int
    order_month: dt.date
    product_code: str
    product_name: str
    quantity: int  # positive, also on a credit note (the document type says which way)
    unit_price: Decimal
    vat_rate: Decimal
    net: Decimal  # positive, also on a credit note

    @property
    def month_end(self) -> dt.date:
        return month_end(self.order_month)


@dataclass(frozen=True)
class SpecificationRow:
    order_id: str
    order_date: dt.date
    order_month: dt.date
    product_code: str
    unit_code: str
    holder_name: str
    holder_hsa_id: str
    unit_price: Decimal


TYPE_LABELS = {
    "invoice": "Faktura",
    "credit_note": "Kreditfaktura",
    "internal_charge": "Intern debitering",
    "internal_credit": "Intern kreditering",
}


@dataclass
class DocumentData:
    number: int
    kind: str  # "invoice" | "credit_note" | "internal_charge" | "internal_credit"
    issue_date: dt.date
    due_date: dt.date
    ocr: str
    title: str
    is_legacy: bool
    period_start: dt.date
    period_end: dt.date
    currency: str
    seller: dict[str, Any]
    buyer: dict[str, Any]
    net: Decimal  # the amounts are positive, also on a credit note
    vat: Decimal
    rounding: Decimal  # signed: the rounding of the amount as the document states it
    payable: Decimal
    vat_breakdown: list[tuple[Decimal, Decimal, Decimal]]  # (rate, taxable, tax)
    lines: list[LineData]
    specification: list[SpecificationRow] = field(default_factory=list)
    credited_number: int | None = None
    credited_issue_date: dt.date | None = None
    reason: str = ""
    payment_terms_days: int = 30
    # A draft, shown before it is issued (R25): no number, OCR or issue date yet (``number`` is
    # 0 and the dates are the preview's); only the PDF renders it, marked UTKAST.
    draft: bool = False

    @property
    def is_credit_note(self) -> bool:
        """A credit of an invoice or of an internal charge."""
        return self.kind in CREDIT_KINDS

    @property
    def is_internal(self) -> bool:
        """An internal charge or credit (R17): no VAT, no payment, never through Peppol."""
        return self.kind in INTERNAL_KINDS

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.kind]

    @property
    def tax_inclusive(self) -> Decimal:
        return self.net + self.vat


def _specifications(invoices: list[Invoice]) -> dict[int, list[SpecificationRow]]:
    """The specification as it was issued: read from the items' snapshot, never from the
    orders as they are today (R13)."""
    rows: dict[int, list[SpecificationRow]] = defaultdict(list)
    ids = [invoice.pk for invoice in invoices]
    day_of = day_parser()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"SELECT i.invoice_id, i.order_ref, {date_text('i.order_date')}, "
                "i.product_code, i.unit_code, i.holder_name, i.holder_hsa_id, i.unit_price "
                f"FROM {ITEMS} i WHERE i.invoice_id IN ({', '.join(['%s'] * len(chunk))}) "
                "ORDER BY i.invoice_id, i.order_date, i.order_ref",
                chunk,
            )
            for invoice_id, order_id, given, code, unit, name, hsa, price in cursor.fetchall():
                day = day_of(given)
                rows[invoice_id].append(
                    SpecificationRow(
                        order_id, day, day.replace(day=1), code, unit, name, hsa, cents(price)
                    )
                )
    return rows


def _line(line: InvoiceLine, sign: int) -> LineData:
    return LineData(
        position=line.position,
        order_month=line.order_month,
        product_code=line.product_code,
        product_name=line.product_name,
        quantity=line.quantity * sign,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        net=line.net * sign,
    )


def documents_for(invoices: list[Invoice], *, being_issued: bool = False) -> list[DocumentData]:
    """The render data of issued documents, in three queries for any number of them.

    ``being_issued``: documents numbered inside the issuing transaction, not yet final, which
    are rendered to be validated before they are."""
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice__in=invoices).order_by("invoice", "position"):
        lines[line.invoice_id].append(line)
    specifications = _specifications(invoices)
    documents = []
    for invoice in invoices:
        final = invoice.status == Invoice.Status.ISSUED or being_issued
        if not final or invoice.number is None:
            raise ValueError(f"{invoice} är inte utfärdad och har inget dokument")
        assert invoice.issue_date is not None and invoice.due_date is not None
        sign = -1 if invoice.kind in CREDIT_KINDS else 1
        vat_by_rate = (
            internal_totals(line.net * sign for line in lines[invoice.pk]).vat_by_rate
            if invoice.kind in INTERNAL_KINDS
            else tuple(
                # "or": a credit note's 0 % VAT is 0.00, not -0.00, on the document.
                (rate, base * sign or base, tax * sign or ZERO)
                for rate, base, tax in stated_vat_by_rate(
                    ((line.net, line.vat_rate) for line in lines[invoice.pk]),
                    invoice.vat_breakdown,
                )
            )
        )
        documents.append(
            DocumentData(
                number=invoice.number,
                kind=invoice.kind,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                ocr=invoice.ocr,
                title=invoice.title,
                is_legacy=invoice.is_legacy,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                currency=invoice.currency,
                seller=invoice.seller,
                buyer=invoice.buyer,
                net=invoice.net * sign,
                vat=invoice.vat * sign or ZERO,  # not -0.00 on a credit note at 0 %
                rounding=invoice.rounding * sign or ZERO,
                payable=invoice.payable * sign,
                vat_breakdown=list(vat_by_rate),
                lines=[_line(line, sign) for line in lines[invoice.pk]],
                specification=specifications[invoice.pk],
                credited_number=invoice.credits.number if invoice.credits else None,
                credited_issue_date=invoice.credits.issue_date if invoice.credits else None,
                reason=invoice.reason,
                payment_terms_days=(invoice.due_date - invoice.issue_date).days,
            )
        )
    return documents


ORDERS = Order._meta.db_table


def _draft_specifications(invoices: list[Invoice]) -> dict[int, list[SpecificationRow]]:
    """A draft's specification from its orders as they are now (issuing copies the same fields
    onto the items, R13); a holder is named only on the own customer's document (R16)."""
    rows: dict[int, list[SpecificationRow]] = defaultdict(list)
    customers = {invoice.pk: invoice.customer_id for invoice in invoices}
    day_of = day_parser()
    ids = list(customers)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"SELECT i.invoice_id, o.order_id, {date_text('o.order_date')}, o.product_code, "
                "o.unit_code, o.holder_name, o.holder_hsa_id, i.unit_price, o.customer_id "
                f"FROM {ITEMS} i JOIN {ORDERS} o ON o.id = i.order_id "
                f"WHERE i.invoice_id IN ({', '.join(['%s'] * len(chunk))}) "
                "ORDER BY i.invoice_id, o.order_date, o.order_id",
                chunk,
            )
            for (
                invoice_id,
                order_id,
                given,
                code,
                unit,
                name,
                hsa,
                price,
                owner,
            ) in cursor.fetchall():
                day = day_of(given)
                own = owner == customers[invoice_id]
                rows[invoice_id].append(
                    SpecificationRow(
                        order_id, day, day.replace(day=1), code, unit,
                        name if own else "", hsa if own else "", cents(price),
                    )
                )  # fmt: skip
    return rows


def draft_documents_for(invoices: list[Invoice]) -> list[DocumentData]:
    """The render data of draft documents (R25: the issuer opens them first): what a draft has –
    its lines, amounts and orders, the seller as configured and the buyer as the account is now
    – and no number, OCR reference or issue date, which issuing gives it."""
    from kortfaktura.billing.services import buyer_snapshot, seller_snapshot

    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice__in=invoices).order_by("invoice", "position"):
        lines[line.invoice_id].append(line)
    specifications = _draft_specifications(invoices)
    today = timezone.localdate()
    seller = seller_snapshot()
    documents = []
    for invoice in invoices:
        if invoice.status != Invoice.Status.DRAFT:
            raise ValueError(f"{invoice} är inget utkast")
        vat_by_rate = (
            internal_totals(line.net for line in lines[invoice.pk]).vat_by_rate
            if invoice.kind in INTERNAL_KINDS
            else stated_vat_by_rate(((line.net, line.vat_rate) for line in lines[invoice.pk]), None)
        )
        documents.append(
            DocumentData(
                number=0,
                kind=invoice.kind,
                issue_date=today,
                due_date=today + dt.timedelta(days=settings.PAYMENT_TERMS_DAYS),
                ocr="",
                title=invoice.title,
                is_legacy=invoice.is_legacy,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                currency=invoice.currency,
                seller=seller,
                buyer=buyer_snapshot(invoice.account),
                net=invoice.net,
                vat=invoice.vat,
                rounding=invoice.rounding,
                payable=invoice.payable,
                vat_breakdown=list(vat_by_rate),
                lines=[_line(line, 1) for line in lines[invoice.pk]],
                specification=specifications[invoice.pk],
                payment_terms_days=settings.PAYMENT_TERMS_DAYS,
                draft=True,
            )
        )
    return documents
