"""A BgMax file as Bankgirot delivers it ("Bankgiro Inbetalningar – teknisk manual"): start (01),
one opening (05) and deposit (15) record per deposit of at most ``PER_DEPOSIT`` payments (20),
deductions (21) and their texts (25), and the end (70) with the counts. For the demo's payments
and the payments benchmark; the tests build their files field by field themselves."""

import datetime as dt
from dataclasses import dataclass

PER_DEPOSIT = 1000


@dataclass(frozen=True)
class Paid:
    reference: str  # the OCR number, or "" when the payer wrote a text instead
    ore: int  # the amount in öre
    serial: int  # Bankgirot's serial number, unique per payment
    text: str = ""  # information text (25), e.g. "Faktura 100001"
    deduction: bool = False  # record 21: money taken back


def bgmax(payments: list[Paid], bankgiro: str, day: dt.date) -> bytes:
    """The file's bytes (ISO 8859-1, CRLF): the deposits' and the end record's counts and sums
    tie, as Kortfaktura's reader demands."""
    digits = "".join(ch for ch in bankgiro if ch.isdigit())
    rows = ["01" + "BGMAX".ljust(20) + "01" + f"{day:%Y%m%d}080000000000" + "P" + " " * 35]
    counted = {"20": 0, "21": 0}
    for deposit, start in enumerate(range(0, len(payments), PER_DEPOSIT), start=1):
        chunk = payments[start : start + PER_DEPOSIT]
        rows.append("05" + digits.rjust(10, "0") + " " * 10 + "SEK" + " " * 55)
        total = 0
        for paid in chunk:
            code = "21" if paid.deduction else "20"
            rows.append(
                code + "0" * 10 + paid.reference.rjust(25) + str(paid.ore).rjust(18, "0") + "2"
                + "1" + str(paid.serial).rjust(12, "0") + "0"
                + ("0" + " " * 9 if paid.deduction else " " * 10)
            )  # fmt: skip
            if paid.text:
                rows.append("25" + paid.text[:50].ljust(50) + " " * 28)
            counted[code] += 1
            total += -paid.ore if paid.deduction else paid.ore
        rows.append(
            "15" + "5841".rjust(35, "0") + f"{day:%Y%m%d}" + str(deposit).rjust(5, "0")
            + str(total).rjust(18, "0") + "SEK" + str(len(chunk)).rjust(8, "0") + " "
        )  # fmt: skip
    deposits = -(-len(payments) // PER_DEPOSIT)
    rows.append(
        "70" + str(counted["20"]).rjust(8, "0") + str(counted["21"]).rjust(8, "0") + "0" * 8
        + str(deposits).rjust(8, "0") + " " * 46
    )  # fmt: skip
    return ("\r\n".join(rows) + "\r\n").encode("iso-8859-1")
