"""From issued documents to vouchers (DOMAIN.md §5, docs/accounting.md). Pure: no ORM.

One voucher per issued document, read from the document's own data only (header, buyer
snapshot, lines), so that booking a document again years later gives the same voucher:

- invoice: debit receivable (payable); credit revenue per account (the lines' nets, each line
  on its own revenue account or the default for its VAT rate); credit output VAT per rate
  (computed from the lines by the billing rule R10 – for a credit note, as stored with it, since
  R12 holds the VAT of an invoice's credit notes to the invoice's – and required to equal the
  stored VAT);
  öresavrundning credited when positive, debited when negative;
- credit note: the same formula with its negative amounts, so exactly the reverse;
- internal charge: debit the internal cost account with the unit's cost centre as object
  (dimension 1), credit internal revenue, both the net (no VAT, no rounding, R17);
- internal credit: the reverse.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kortfaktura.accounting.sie import Transaction, Voucher, amount
from kortfaktura.billing.core import stated_vat_by_rate

COST_CENTRE_DIMENSION = 1
COST_CENTRE_DIMENSION_NAME = "Kostnadsställe"
KIND_TEXT = {
    "invoice": "Faktura",
    "credit_note": "Kreditfaktura",
    "internal_charge": "Intern debitering",
    "internal_credit": "Intern kreditering",
}
INTERNAL = ("internal_charge", "internal_credit")
ZERO = Decimal("0.00")


class BookingError(Exception):
    """A document that cannot be booked; Swedish, naming the document. Nothing is written."""


@dataclass(frozen=True)
class Line:
    net: Decimal
    vat_rate: Decimal
    revenue_account: str = ""


@dataclass
class Document:
    """An issued document as booking sees it."""

    kind: str
    number: int
    issue_date: dt.date
    net: Decimal
    vat: Decimal
    rounding: Decimal
    payable: Decimal
    buyer: Mapping[str, Any]
    credits_number: int | None = None
    lines: list[Line] = field(default_factory=list)
    # A credit note's VAT per rate as issued (R12), else None: R10 on the lines.
    vat_breakdown: Mapping[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{KIND_TEXT.get(self.kind, self.kind)} {self.number}"

    @property
    def party(self) -> str:
        """Who the document is for: the unit (billing account) for an internal document, whose
        customer is always the region itself, else the customer."""
        buyer = self.buyer or {}
        if self.kind in INTERNAL:
            return str(buyer.get("account_name") or buyer.get("name") or "")
        return str(buyer.get("name") or buyer.get("account_name") or "")

    @property
    def cost_centre(self) -> str:
        return str((self.buyer or {}).get("cost_centre") or "").strip()

    @property
    def text(self) -> str:
        credits = f" (krediterar {self.credits_number})" if self.credits_number else ""
        return " ".join(part for part in (f"{self.label}{credits}", self.party) if part)


def _rate_key(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def _is_account(number: str) -> bool:
    return number.isascii() and number.isdigit() and 1 <= len(number) <= 10


@dataclass(frozen=True)
class Chart:
    """The accounts from the settings (``ACCOUNTS``, ``ACCOUNT_NAMES``)."""

    receivable: str
    revenue: Mapping[str, str]  # VAT rate ("25", "12", "6", "0") → account
    vat: Mapping[str, str]
    rounding: str
    internal_cost: str
    internal_revenue: str
    names: Mapping[str, str]
    bank: str = "1930"

    @classmethod
    def from_settings(cls) -> "Chart":
        from django.conf import settings

        accounts: dict[str, Any] = settings.ACCOUNTS
        chart = cls(
            receivable=str(accounts["receivable"]).strip(),
            revenue={_rate_key(Decimal(k)): str(v).strip() for k, v in accounts["revenue"].items()},
            vat={_rate_key(Decimal(k)): str(v).strip() for k, v in accounts["vat"].items()},
            rounding=str(accounts["rounding"]).strip(),
            internal_cost=str(accounts["internal_cost"]).strip(),
            internal_revenue=str(accounts["internal_revenue"]).strip(),
            names=dict(settings.ACCOUNT_NAMES),
            bank=str(accounts.get("bank", "1930")).strip(),
        )
        chart.check()
        return chart

    def check(self) -> None:
        named = [
            ("KORTFAKTURA_ACCOUNT_RECEIVABLE", self.receivable),
            ("KORTFAKTURA_ACCOUNT_ROUNDING", self.rounding),
            ("KORTFAKTURA_ACCOUNT_INTERNAL_COST", self.internal_cost),
            ("KORTFAKTURA_ACCOUNT_INTERNAL_REVENUE", self.internal_revenue),
            *((f"KORTFAKTURA_ACCOUNT_REVENUE_{rate}", n) for rate, n in self.revenue.items()),
            *((f"KORTFAKTURA_ACCOUNT_VAT_{rate}", n) for rate, n in self.vat.items()),
        ]
        for variable, number in named:
            if not _is_account(number):
                raise BookingError(
                    f"inställningen {variable}={number!r} är inget kontonummer – ange bara "
                    "siffror, t.ex. 3001"
                )

    def name(self, number: str) -> str:
        if number in self.names:
            return self.names[number]
        return f"Intäkter {number}" if number.startswith("3") else f"Konto {number}"


@dataclass
class Booking:
    """The vouchers of a set of documents, and what the file must declare."""

    vouchers: list[Voucher] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # number → name, every one used
    objects: dict[tuple[int, str], str] = field(default_factory=dict)  # (dim, id) → name
    warnings: list[str] = field(default_factory=list)
    by_account: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # The payments' vouchers (R21): their own series, numbered by payment id.
    payment_series: str = ""
    payment_ids: list[int] = field(default_factory=list)

    @property
    def documents(self) -> int:
        return len(self.vouchers) - len(self.payment_ids)

    @property
    def debit(self) -> Decimal:
        return sum((voucher.debit for voucher in self.vouchers), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((voucher.credit for voucher in self.vouchers), ZERO)

    @property
    def first_number(self) -> int | None:
        return min(self._document_numbers(), default=None)

    @property
    def last_number(self) -> int | None:
        return max(self._document_numbers(), default=None)

    def _document_numbers(self) -> list[int]:
        return [
            voucher.number
            for voucher in self.vouchers
            if not self.payment_ids or voucher.series != self.payment_series
        ]


def book(documents: Iterable[Document], chart: Chart, series: str) -> Booking:
    """One voucher per document, in the order given; every voucher balances to the öre or
    ``BookingError`` names the first that does not."""
    booking = Booking()
    for document in documents:
        voucher = Voucher(series, document.number, document.issue_date, document.text)
        if document.kind in INTERNAL:
            _internal(document, chart, voucher, booking)
        elif document.kind in ("invoice", "credit_note"):
            _invoice(document, chart, voucher)
        else:
            raise BookingError(f"{document.label}: okänd dokumenttyp {document.kind!r}")
        if voucher.balance != 0:
            raise BookingError(
                f"{document.label} ({document.party}) går inte att bokföra: verifikationen går "
                f"inte ihop (differens {amount(voucher.balance)} kr) – exporten avbröts och "
                "ingen fil skrevs"
            )
        for row in voucher.transactions:
            booking.accounts[row.account] = chart.name(row.account)
            booking.by_account[row.account] += row.amount
        booking.vouchers.append(voucher)
    return booking


def _invoice(document: Document, chart: Chart, voucher: Voucher) -> None:
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for line in document.lines:
        account = line.revenue_account.strip() or chart.revenue.get(_rate_key(line.vat_rate), "")
        if not account:
            raise BookingError(
                f"{document.label}: inget intäktskonto för momssatsen "
                f"{_rate_key(line.vat_rate)} % – sätt KORTFAKTURA_ACCOUNT_REVENUE_"
                f"{_rate_key(line.vat_rate)} eller ett intäktskonto på priset"
            )
        if not _is_account(account):
            raise BookingError(
                f"{document.label}: intäktskontot {account!r} på en rad är inget kontonummer "
                "(bara siffror, t.ex. 3001)"
            )
        revenue[account] += line.net
    vat_by_rate = stated_vat_by_rate(
        ((line.net, line.vat_rate) for line in document.lines), document.vat_breakdown
    )
    vat = sum((tax for _, _, tax in vat_by_rate), ZERO)
    if vat != document.vat:
        raise BookingError(
            f"{document.label}: momsen på dokumentet ({amount(document.vat)}) stämmer inte med "
            f"momsen per momssats ({amount(vat)}) – exporten avbröts och ingen fil skrevs"
        )
    voucher.transactions.append(Transaction(chart.receivable, document.payable))
    for account in sorted(revenue, key=lambda n: (int(n), n)):
        if revenue[account] != 0:
            voucher.transactions.append(Transaction(account, -revenue[account]))
    for rate, _base, tax in sorted(vat_by_rate, key=lambda entry: -entry[0]):
        if tax == 0:
            continue
        account = chart.vat.get(_rate_key(rate), "")
        if not account:
            raise BookingError(
                f"{document.label}: inget momskonto för momssatsen {_rate_key(rate)} % – sätt "
                f"KORTFAKTURA_ACCOUNT_VAT_{_rate_key(rate)}"
            )
        voucher.transactions.append(Transaction(account, -tax))
    if document.rounding != 0:
        voucher.transactions.append(Transaction(chart.rounding, -document.rounding))


def _internal(document: Document, chart: Chart, voucher: Voucher, booking: Booking) -> None:
    if document.vat != 0 or document.rounding != 0:
        raise BookingError(
            f"{document.label}: en intern debitering har varken moms eller öresavrundning, men "
            f"dokumentet har moms {amount(document.vat)} och avrundning "
            f"{amount(document.rounding)} – exporten avbröts och ingen fil skrevs"
        )
    lines_net = sum((line.net for line in document.lines), ZERO)
    if document.lines and lines_net != document.net:
        raise BookingError(
            f"{document.label}: dokumentets netto ({amount(document.net)}) stämmer inte med "
            f"raderna ({amount(lines_net)}) – exporten avbröts och ingen fil skrevs"
        )
    centre = document.cost_centre
    objects: tuple[tuple[int, str], ...] = ()
    if centre:
        objects = ((COST_CENTRE_DIMENSION, centre),)
        booking.objects[COST_CENTRE_DIMENSION, centre] = document.party or centre
    else:
        booking.warnings.append(
            f"{document.text}: kostnadsställe saknas – verifikationen skrevs utan objekt; "
            "ange kostnadsstället på fakturamottagaren och bokför kostnaden rätt manuellt"
        )
    voucher.transactions.append(Transaction(chart.internal_cost, document.net, objects))
    voucher.transactions.append(Transaction(chart.internal_revenue, -document.net))


@dataclass(frozen=True)
class PaymentEntry:
    """An incoming payment as booking sees it (R21): money on the bank account, off the
    customer's receivable – matched or not (an unmatched payment is a credit on receivables
    until a person assigns or refunds it, DOMAIN.md §5)."""

    id: int
    paid_on: dt.date
    amount: Decimal  # negative for a deduction
    text: str


def book_payments(
    booking: Booking, payments: Iterable[PaymentEntry], chart: Chart, series: str
) -> None:
    """One voucher per payment: debit bank, credit receivables (a deduction the reverse)."""
    booking.payment_series = series
    for payment in payments:
        if payment.amount == 0:
            continue
        voucher = Voucher(series, payment.id, payment.paid_on, payment.text)
        voucher.transactions.append(Transaction(chart.bank, payment.amount))
        voucher.transactions.append(Transaction(chart.receivable, -payment.amount))
        for row in voucher.transactions:
            booking.accounts[row.account] = chart.name(row.account)
            booking.by_account[row.account] += row.amount
        booking.vouchers.append(voucher)
        booking.payment_ids.append(payment.id)
