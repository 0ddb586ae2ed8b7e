"""The review (genomlysning, DOMAIN.md R18) as plain data: what the command line prints, what
the HTML and Excel reports render, and what ``review --json`` serialises.

Every count here was counted on its own in the database (``review.selectors``); nothing is a
total less the other states, so an order counted twice or lost makes a month fail to balance.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kortfaktura.swedish import count, counted

ZERO = Decimal("0.00")

# The states of R18, in the order "the first that applies"; the keys of ``MonthRow``.
STATES = ("invoiced", "previously_invoiced", "not_billable", "in_draft", "held_back", "unbilled")
STATE_LABELS = {
    "invoiced": "fakturerade",
    "previously_invoiced": "tidigare fakturerade",
    "not_billable": "ej fakturerbara",
    "in_draft": "i utkast",
    "held_back": "tillbakahållna",
    "unbilled": "ej fakturerade än",
}


@dataclass
class MonthRow:
    month: str  # YYYY-MM
    orders: int = 0
    invoiced: int = 0
    previously_invoiced: int = 0
    not_billable: int = 0
    in_draft: int = 0
    held_back: int = 0
    unbilled: int = 0
    # The net of the month's invoiced orders (their items' prices) and, counted separately, the
    # sum of the issued documents' lines for the month (credit notes negative): the two tie.
    invoiced_net: Decimal = ZERO
    documents_net: Decimal = ZERO

    @property
    def accounted(self) -> int:
        return sum(getattr(self, state) for state in STATES)

    @property
    def balanced(self) -> bool:
        return self.accounted == self.orders and self.invoiced_net == self.documents_net


@dataclass
class OrderFinding:
    """An order that is held back, or billable and not yet in any run, and what releases it."""

    order_id: str
    order_date: dt.date
    orgnr: str
    customer: str  # the customer's name, "" when unknown
    reason: str  # a HeldBackReason value, or "unbilled"
    label: str  # Swedish, short: "okänd kund"
    action: str  # Swedish: what a person does to release it


@dataclass
class PendingChange:
    id: int
    order_id: str
    invoice_number: int | None
    field: str
    old: str
    new: str


@dataclass
class CustomerDataProblem:
    orgnr: str
    account_code: str
    severity: str  # "error" | "warning"
    problem: str  # Swedish, with what to do


@dataclass
class CustomerRow:
    orgnr: str
    name: str
    orders: int = 0
    invoiced: int = 0
    previously_invoiced: int = 0
    not_billable: int = 0
    in_draft: int = 0
    held_back: int = 0
    unbilled: int = 0
    invoiced_net: Decimal = ZERO


@dataclass
class DocumentProblem:
    number: int
    problem: str  # Swedish


@dataclass
class Discrepancy:
    """Something that makes the review fail to balance, naming the order or document."""

    month: str  # YYYY-MM, or "" when not tied to a month
    order_id: str  # "" when it concerns a document
    number: int | None  # the document concerned, if any
    problem: str  # Swedish


@dataclass
class ChainBreak:
    """A place where a hash chain does not hold (DOMAIN.md R19)."""

    number: int | None  # the document number, or the audit record's id; None: the whole chain
    problem: str  # Swedish, naming what differs


@dataclass
class ChainReport:
    """One hash chain as the review found it: a number series of documents, or the audit
    trail. ``head_number`` is the last document's number (the last record's id for the audit
    trail); with ``head_hash`` it is what ``review --expect-head`` checks later."""

    chain: str  # "invoices" | "internal" | "audit"
    label: str  # Swedish
    length: int = 0
    head_number: int | None = None
    head_hash: str = ""
    broken: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def expect(self) -> str:
        """The argument of ``kortfaktura review --expect-head`` for this head."""
        if self.head_number is None:
            return ""
        prefix = "audit:" if self.chain == "audit" else ""
        return f"{prefix}{self.head_number}:{self.head_hash}"


MIN_HASH = 16  # hex characters of a copied head that must match (a prefix of the link)
EXPECT = re.compile(r"(?:(?P<audit>(?i:audit)):)?(?P<number>[0-9]{1,18}):(?P<hash>[0-9a-fA-F]+)")


class HeadFormatError(ValueError):
    """A ``--expect-head`` that cannot be read; Swedish, with the right form."""


@dataclass(frozen=True)
class ExpectedHead:
    audit: bool  # the audit trail (number = record id), else a document (number = its number)
    number: int
    hash: str  # lower-case hex, at least MIN_HASH characters

    @classmethod
    def parse(cls, text: str) -> "ExpectedHead":
        found = EXPECT.fullmatch(text.strip())
        if found is None or len(found["hash"]) < MIN_HASH or len(found["hash"]) > 64:
            raise HeadFormatError(
                f"'{text}' är inget kedjehuvud – ange NUMMER:KONTROLLSUMMA för ett dokument, "
                "t.ex. 104863:3f9a…, eller audit:ID:KONTROLLSUMMA för granskningsloggen, "
                f"kontrollsumman med minst {MIN_HASH} av sina 64 tecken 0–9, a–f, som den står i "
                "SIE-filen, genomlysningsrapporten eller nattens meddelande"
            )
        return cls(bool(found["audit"]), int(found["number"]), found["hash"].lower())

    @property
    def label(self) -> str:
        return f"{'audit:' if self.audit else ''}{self.number}:{self.hash}"


@dataclass
class ExportRow:
    """A SIE export against the documents of its period as they are now: an export that no
    longer matches (a document issued or changed since) must be exported again."""

    id: int
    made_at: dt.datetime
    made_by: str
    period_from: dt.date
    period_to: dt.date
    file: str
    sha256: str
    vouchers: int
    debit: Decimal
    documents_now: int
    debit_now: Decimal
    balances_match: bool = True  # every account's balance as exported = as the documents give
    superseded_by: int | None = None  # a later export of a period that contains this one

    @property
    def matches(self) -> bool:
        if self.superseded_by is not None:
            return True
        return (
            self.vouchers == self.documents_now
            and self.debit == self.debit_now
            and self.balances_match
        )


@dataclass
class PaymentsRow:
    """The payments in the review (R21, R22): how many were read, what waits for a person
    (unmatched: to assign or refund; refund: to pay back) and the receivables."""

    files: int = 0
    payments: int = 0
    amount: Decimal = Decimal("0.00")
    unmatched: int = 0
    unmatched_amount: Decimal = Decimal("0.00")
    refund: int = 0
    refund_amount: Decimal = Decimal("0.00")
    total_open: Decimal = Decimal("0.00")
    overdue: Decimal = Decimal("0.00")
    credit_balance: Decimal = Decimal("0.00")

    def as_json(self) -> dict[str, Any]:
        return {
            key: (f"{value:.2f}" if isinstance(value, Decimal) else value)
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class Attention:
    """One kind of finding that needs a person, with its count: ``3 tillbakahållna
    beställningar``. ``kind`` names the section of the review that lists them."""

    kind: str
    count: int
    text: str


# Every kind of finding that needs a person, in the order the verdict names them (singular,
# plural). The verdict is green only when none of them is there (issue 21, item 6).
ATTENTION_KINDS: tuple[tuple[str, str, str], ...] = (
    ("discrepancies", "avvikelse", "avvikelser"),
    ("unbalanced_months", "månad som inte stämmer", "månader som inte stämmer"),
    ("held_back", "tillbakahållen beställning", "tillbakahållna beställningar"),
    ("customer_data", "anmärkning på kunduppgifterna", "anmärkningar på kunduppgifterna"),
    ("pending_changes", "ändring som väntar på beslut", "ändringar som väntar på beslut"),
    ("gaps", "lucka i numreringen", "luckor i numreringen"),
    ("invalid_documents", "dokument som inte stämmer", "dokument som inte stämmer"),
    ("unbooked_documents", "dokument som inte bokförts (SIE)", "dokument som inte bokförts (SIE)"),
    ("exports", "SIE-export som inte stämmer", "SIE-exporter som inte stämmer"),
    ("unmatched_payments", "betalning utan faktura", "betalningar utan faktura"),
    ("refunds", "betalning att betala tillbaka", "betalningar att betala tillbaka"),
)


def attention(counts: dict[str, int]) -> list[Attention]:
    """The kinds with a count above zero, in the verdict's order, worded."""
    return [
        Attention(kind, counts.get(kind, 0), counted(counts.get(kind, 0), one, many))
        for kind, one, many in ATTENTION_KINDS
        if counts.get(kind, 0)
    ]


def listed(texts: list[str]) -> str:
    """``a, b och c``."""
    return ", ".join(texts[:-1]) + (" och " if len(texts) > 1 else "") + texts[-1]


@dataclass
class Review:
    period_from: dt.date | None
    period_to: dt.date | None
    made_at: dt.datetime  # aware
    made_by: str
    checksum: str  # SHA-256 of the data the review was made from (see docs/review.md)
    months: list[MonthRow] = field(default_factory=list)
    held_back: list[OrderFinding] = field(default_factory=list)
    unbilled: list[OrderFinding] = field(default_factory=list)
    pending_changes: list[PendingChange] = field(default_factory=list)
    customer_data: list[CustomerDataProblem] = field(default_factory=list)
    customers: list[CustomerRow] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    invalid_documents: list[DocumentProblem] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    exports: list[ExportRow] = field(default_factory=list)
    unbooked_documents: list[int] = field(default_factory=list)  # issued, in no SIE export
    # R25: whether dual control was on when the review was made (KORTFAKTURA_DUAL_CONTROL).
    dual_control: bool = True
    # The hash chains (R19): each document series and the audit trail, with their heads. A
    # break is also a discrepancy, so that a broken chain fails the review everywhere.
    chains: list[ChainReport] = field(default_factory=list)
    payments: PaymentsRow = field(default_factory=PaymentsRow)

    @property
    def balanced(self) -> bool:
        """Every month's states add up to its orders, its amounts tie, and nothing else fails
        to tie (an order on two invoices, an invoiced order that no longer exists)."""
        return all(month.balanced for month in self.months) and not self.discrepancies

    @property
    def totals(self) -> MonthRow:
        total = MonthRow("totalt")
        for month in self.months:
            for name in ("orders", *STATES):
                setattr(total, name, getattr(total, name) + getattr(month, name))
            total.invoiced_net += month.invoiced_net
            total.documents_net += month.documents_net
        return total

    def held_back_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.held_back:
            counts[finding.label] = counts.get(finding.label, 0) + 1
        return counts

    def attention_counts(self) -> dict[str, int]:
        """How many findings of each kind need a person (``ATTENTION_KINDS``)."""
        return {
            "discrepancies": len(self.discrepancies),
            "unbalanced_months": sum(1 for month in self.months if not month.balanced),
            "held_back": len(self.held_back),
            "customer_data": len(self.customer_data),
            "pending_changes": len(self.pending_changes),
            "gaps": len(self.gaps),
            "invalid_documents": len(self.invalid_documents),
            "unbooked_documents": len(self.unbooked_documents),
            "exports": sum(1 for export in self.exports if not export.matches),
            "unmatched_payments": self.payments.unmatched,
            "refunds": self.payments.refund,
        }

    def attention(self) -> list[Attention]:
        """Every kind of finding that needs a person, counted; empty when nothing does."""
        return attention(self.attention_counts())

    @property
    def all_clear(self) -> bool:
        """Everything ties and nothing needs a person: the only state shown green."""
        return self.balanced and not self.attention()

    def needs_attention(self) -> int:
        """How many findings need a person: held-back orders, remarks on customer data, pending
        changes, numbering gaps, documents that do not match, discrepancies."""
        return (
            len(self.held_back)
            + len(self.customer_data)
            + len(self.pending_changes)
            + len(self.gaps)
            + len(self.invalid_documents)
            + len(self.discrepancies)
            + self.payments.unmatched
            + self.payments.refund
        )

    def control_note(self) -> str:
        """R25: a line that says when dual control is off; empty when it is on."""
        if self.dual_control:
            return ""
        return (
            "Fyraögonsprincipen är avstängd (KORTFAKTURA_DUAL_CONTROL=0): den som gör ett utkast "
            "kan också utfärda det; granskningsloggen visar vem (run.issued, issued_by_drafter)."
        )

    def summary(self) -> str:
        """One Swedish sentence: is everything accounted for?"""
        total = self.totals
        broken = [chain.label for chain in self.chains if not chain.ok]
        if not self.balanced:
            history = (
                f"Historiken har ändrats i databasen: kedjan för {broken[0]} är bruten. "
                if len(broken) == 1
                else "Historiken har ändrats i databasen: kedjorna för "
                f"{', '.join(broken[:-1])} samt {broken[-1]} är brutna. "
                if broken
                else ""
            )
            return history + (
                "Genomlysningen går INTE ihop: "
                f"{counted(len(self.discrepancies), 'avvikelse', 'avvikelser')} och "
                f"{counted(sum(1 for m in self.months if not m.balanced), 'månad', 'månader')} "
                "som inte stämmer – "
                "se avvikelserna innan något faktureras eller bokförs."
            )
        accounted = (
            f"Alla {count(total.orders)} beställningar är redovisade: "
            f"{count(total.invoiced)} fakturerade, {count(total.previously_invoiced)} tidigare "
            f"fakturerade, {count(total.not_billable)} ej fakturerbara, {count(total.in_draft)} "
            f"i utkast, {count(total.held_back)} tillbakahållna och {count(total.unbilled)} "
            "ännu inte fakturerade."
        )
        todo = [
            counted(number, one, many)
            for number, one, many in (
                (total.held_back, "tillbakahållen beställning", "tillbakahållna beställningar"),
                (len(self.customer_data), "anmärkning på kunduppgifterna",
                 "anmärkningar på kunduppgifterna"),
                (len(self.pending_changes), "ändring som väntar på beslut",
                 "ändringar som väntar på beslut"),
                (len(self.gaps), "lucka i numreringen", "luckor i numreringen"),
                (len(self.invalid_documents), "dokument som inte stämmer",
                 "dokument som inte stämmer"),
                (len(self.unbooked_documents), "dokument som inte bokförts (SIE)",
                 "dokument som inte bokförts (SIE)"),
                (sum(1 for e in self.exports if not e.matches), "SIE-export som inte stämmer",
                 "SIE-exporter som inte stämmer"),
                (self.payments.unmatched, "betalning utan faktura", "betalningar utan faktura"),
                (self.payments.refund, "betalning att betala tillbaka",
                 "betalningar att betala tillbaka"),
            )
            if number
        ]  # fmt: skip
        if not todo:
            return accounted + " Inget behöver åtgärdas."
        listed = ", ".join(todo[:-1]) + (" och " if len(todo) > 1 else "") + todo[-1]
        return f"{accounted} Att åtgärda: {listed}."

    def as_json(self) -> dict[str, Any]:
        """The shape of ``review --json`` (INTERFACES.md), plus the report's extras."""
        return {
            "from": self.period_from.isoformat() if self.period_from else None,
            "to": self.period_to.isoformat() if self.period_to else None,
            "balanced": self.balanced,
            "summary": self.summary(),
            "made_at": self.made_at.isoformat(),
            "made_by": self.made_by,
            "checksum": self.checksum,
            "dual_control": self.dual_control,
            "months": [
                {
                    "month": month.month,
                    "orders": month.orders,
                    **{state: getattr(month, state) for state in STATES},
                    "invoiced_net": str(month.invoiced_net),
                    "documents_net": str(month.documents_net),
                    "balanced": month.balanced,
                }
                for month in self.months
            ],
            "held_back": [
                {"order_id": f.order_id, "reason": f.reason, "detail": f.action}
                for f in self.held_back
            ],
            "unbilled": [
                {"order_id": f.order_id, "order_date": f.order_date.isoformat()}
                for f in self.unbilled
            ],
            "pending_changes": [
                {
                    "id": c.id,
                    "order_id": c.order_id,
                    "invoice_number": c.invoice_number,
                    "field": c.field,
                    "old": c.old,
                    "new": c.new,
                }
                for c in self.pending_changes
            ],
            "customer_data": [
                {
                    "orgnr": p.orgnr,
                    "account_code": p.account_code,
                    "severity": p.severity,
                    "problem": p.problem,
                }
                for p in self.customer_data
            ],
            "customers": [
                {
                    "orgnr": c.orgnr,
                    "name": c.name,
                    "orders": c.orders,
                    **{state: getattr(c, state) for state in STATES},
                    "invoiced_net": str(c.invoiced_net),
                }
                for c in self.customers
            ],
            "numbering": {"gaps": self.gaps},
            "invalid_documents": [d.number for d in self.invalid_documents],
            "document_problems": [
                {"number": d.number, "problem": d.problem} for d in self.invalid_documents
            ],
            "discrepancies": [
                {"month": d.month, "order_id": d.order_id, "number": d.number, "problem": d.problem}
                for d in self.discrepancies
            ],
            "exports": [
                {
                    "id": e.id,
                    "made_at": e.made_at.isoformat(),
                    "made_by": e.made_by,
                    "from": e.period_from.isoformat(),
                    "to": e.period_to.isoformat(),
                    "file": e.file,
                    "sha256": e.sha256,
                    "vouchers": e.vouchers,
                    "debit": str(e.debit),
                    "documents_now": e.documents_now,
                    "debit_now": str(e.debit_now),
                    "balances_match": e.balances_match,
                    "superseded_by": e.superseded_by,
                    "matches": e.matches,
                }
                for e in self.exports
            ],
            "unbooked_documents": self.unbooked_documents,
            "payments": self.payments.as_json(),
            "chains": [
                {
                    "chain": c.chain,
                    "label": c.label,
                    "length": c.length,
                    "head_number": c.head_number,
                    "head_hash": c.head_hash,
                    "expect": c.expect,
                    "ok": c.ok,
                    "broken": [{"number": b.number, "problem": b.problem} for b in c.broken],
                }
                for c in self.chains
            ],
        }
