"""A small SIE 4 writer (SIE 4i: vouchers for import into a finance system, docs/accounting.md).

The file is ``#FORMAT PC8``: code page 437, CRLF line ends. Strings are written in double
quotes with ``\\"`` and ``\\\\`` escaped; characters that code page 437 lacks become ``?`` and
control characters are dropped. Amounts are exact decimals with a point and two decimals,
negative for credit. Pure: no Django, no clock (the caller passes the dates).
"""

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

ENCODING = "cp437"
LINE_END = "\r\n"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Transaction:
    """One ``#TRANS`` row: positive = debit, negative = credit."""

    account: str
    amount: Decimal
    objects: tuple[tuple[int, str], ...] = ()


@dataclass
class Voucher:
    series: str
    number: int
    date: dt.date
    text: str
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return sum((t.amount for t in self.transactions), Decimal("0.00"))

    @property
    def debit(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.amount > 0), Decimal("0.00"))

    @property
    def credit(self) -> Decimal:
        return -sum((t.amount for t in self.transactions if t.amount < 0), Decimal("0.00"))


@dataclass(frozen=True)
class Header:
    program: str
    version: str
    generated: dt.date
    generated_by: str
    orgnr: str  # ten digits; written as NNNNNN-NNNN
    company: str
    years: Sequence[tuple[int, dt.date, dt.date]]  # (0, start, end), (-1, start, end), …
    # Free text about the file (#PROSA, an identification record of SIE 4 that importers
    # ignore): Kortfaktura writes the heads of its hash chains there (DOMAIN.md R19).
    prose: str = ""


class UnbalancedVoucherError(ValueError):
    """A voucher whose rows do not add up to zero; nothing is written."""

    def __init__(self, voucher: Voucher) -> None:
        self.voucher = voucher
        super().__init__(
            f"verifikation {voucher.series} {voucher.number} går inte ihop: "
            f"differens {amount(voucher.balance)}"
        )


# Punctuation that names often carry and code page 437 lacks, written the nearest plain way.
PLAIN_PUNCTUATION = str.maketrans(
    {"–": "-", "—": "-", "‒": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...",
     "\u00a0": " ", "\u202f": " "}
)  # fmt: skip


def clean(text: str) -> str:
    """The text as code page 437 can hold it: control characters dropped, dashes and quotes
    written plainly, the rest that has no place in the code page replaced by ``?`` (after
    composing, so that a decomposed å stays å)."""
    composed = unicodedata.normalize("NFC", text).translate(PLAIN_PUNCTUATION)
    visible = "".join(ch for ch in composed if unicodedata.category(ch) != "Cc")
    return visible.encode(ENCODING, errors="replace").decode(ENCODING)


def quote(text: str) -> str:
    escaped = clean(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def amount(value: Decimal) -> str:
    """``1250.00``, ``-0.40``: point, two decimals, no grouping."""
    exact = value.quantize(CENT)
    if exact != value:
        raise ValueError(f"beloppet {value} har fler än två decimaler")
    return f"{exact:.2f}" if exact != 0 else "0.00"


def date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def orgnr(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else number


def objects_text(objects: Iterable[tuple[int, str]]) -> str:
    return "{" + " ".join(f"{dimension} {quote(value)}" for dimension, value in objects) + "}"


def fiscal_years(
    first: dt.date, last: dt.date, start_month: int = 1
) -> list[tuple[int, dt.date, dt.date]]:
    """The financial years from the one holding ``first`` to the one holding ``last``: 0 is the
    last one, -1 the one before, …; each year starts on the first of ``start_month``."""

    def start_of(day: dt.date) -> dt.date:
        year = day.year if day.month >= start_month else day.year - 1
        return dt.date(year, start_month, 1)

    years = []
    start = start_of(last)
    index = 0
    while True:
        end = dt.date(start.year + 1, start.month, 1) - dt.timedelta(days=1)
        years.append((index, start, end))
        if start <= first:
            break
        start = dt.date(start.year - 1, start.month, 1)
        index -= 1
    return years


def render(
    header: Header,
    accounts: dict[str, str],
    dimensions: dict[int, str],
    objects: dict[tuple[int, str], str],
    vouchers: Iterable[Voucher],
) -> bytes:
    """The whole file. Every voucher must balance to the öre (``UnbalancedVoucherError``)."""
    lines = [
        "#FLAGGA 0",
        f"#PROGRAM {quote(header.program)} {quote(header.version)}",
        "#FORMAT PC8",
        f"#GEN {date(header.generated)} {quote(header.generated_by)}",
        "#SIETYP 4",
        *([f"#PROSA {quote(header.prose)}"] if header.prose else []),
        f"#ORGNR {orgnr(header.orgnr)}",
        f"#FNAMN {quote(header.company)}",
    ]
    for index, start, end in header.years:
        lines.append(f"#RAR {index} {date(start)} {date(end)}")
    for number in sorted(accounts, key=_account_key):
        lines.append(f"#KONTO {number} {quote(accounts[number])}")
    for dimension in sorted(dimensions):
        lines.append(f"#DIM {dimension} {quote(dimensions[dimension])}")
    for dimension, value in sorted(objects):
        lines.append(f"#OBJEKT {dimension} {quote(value)} {quote(objects[dimension, value])}")
    for voucher in vouchers:
        if voucher.balance != 0:
            raise UnbalancedVoucherError(voucher)
        lines.append(
            f"#VER {quote(voucher.series)} {voucher.number} {date(voucher.date)} "
            f"{quote(voucher.text)}"
        )
        lines.append("{")
        for row in voucher.transactions:
            lines.append(
                f"   #TRANS {row.account} {objects_text(row.objects)} {amount(row.amount)}"
            )
        lines.append("}")
    return (LINE_END.join(lines) + LINE_END).encode(ENCODING)


def _account_key(number: str) -> tuple[int, str]:
    return (int(number), number) if number.isdigit() else (0, number)
