"""Readers of incoming-payment files (DOMAIN.md R21): Bankgirot's BgMax and ISO 20022 camt.054.

Pure: no Django, no database. A reader turns a file's bytes into a ``PaymentFile`` or refuses the
whole file with a ``PaymentFileError`` that says in Swedish what is wrong, where (line number and
record type) and what to do. Nothing is half read: the caller stores a file only when its reader
returned, and a reader returns only when the file's own counts and sums tie.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

BGMAX = "bgmax"
CAMT_054 = "camt.054"
RECORD_LENGTH = 80
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ADVICE_BANK = "Be banken eller Bankgirot om en ny fil."


class PaymentFileError(Exception):
    """The file cannot be used; the message is Swedish and names the line and record."""

    def __init__(self, message: str, *, line: int | None = None, record: str = "") -> None:
        where = ""
        if line is not None:
            where = f"rad {line}" + (f" (post {record})" if record else "") + ": "
        super().__init__(f"{where}{message}")
        self.line = line
        self.record = record


@dataclass
class ReadPayment:
    """One payment as the file states it. ``key`` is the bank's own identity of the payment
    (BgMax: Bankgirot's serial number; camt.054: the account servicer's reference), the one
    thing that tells a repeated payment from a new one (R21)."""

    key: str
    amount: Decimal  # negative for a deduction (BgMax record 21)
    paid_on: dt.date
    reference: str = ""
    extra_references: list[tuple[str, Decimal]] = field(default_factory=list)
    information: str = ""
    payer: str = ""
    payer_orgnr: str = ""
    payer_account: str = ""
    kind: str = "payment"  # "payment" | "deduction"
    line: int = 0
    deposit: int = 0  # the index of its deposit (BgMax section, camt.054 notification)

    @property
    def texts(self) -> list[str]:
        """Everything the payer wrote, in the order matching looks at it."""
        return [
            self.reference,
            *(reference for reference, _ in self.extra_references),
            self.information,
        ]


@dataclass
class Deposit:
    """A BgMax deposit (record 15) or a camt.054 notification: what the bank says it paid in."""

    paid_on: dt.date | None
    serial: str
    amount: Decimal
    count: int
    account: str = ""


@dataclass
class PaymentFile:
    format: str
    payments: list[ReadPayment]
    deposits: list[Deposit]
    bankgiro: str = ""
    created: str = ""

    @property
    def amount(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), Decimal("0.00"))


def detect(content: bytes) -> str:
    """``bgmax`` or ``camt.054``, by the content (never by the file name)."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"01BGMAX"):
        return BGMAX
    if head.startswith(b"<") and b"camt.054" in content[:8192]:
        return CAMT_054
    if head.startswith(b"<"):
        raise PaymentFileError(
            "filen är XML men ingen camt.054-avisering (ISO 20022 "
            "BankToCustomerDebitCreditNotification). Läs in den avisering banken skickar om "
            "inbetalningar, inte kontoutdrag (camt.053) eller annat."
        )
    raise PaymentFileError(
        "filen är varken en BgMax-fil från Bankgirot (första posten ska börja med 01BGMAX) "
        "eller en camt.054-avisering (XML). Kontrollera att det är rätt fil."
    )


def read(content: bytes, *, bankgiro: str) -> PaymentFile:
    """The file read by the reader its content asks for."""
    kind = detect(content)
    if kind == BGMAX:
        return read_bgmax(content, bankgiro=bankgiro)
    from kortfaktura.payments.camt import read_camt054

    return read_camt054(content, bankgiro=bankgiro)


def read_path(path: Path, *, bankgiro: str) -> PaymentFile:
    return read(path.read_bytes(), bankgiro=bankgiro)


def kronor(value: Decimal) -> str:
    """An amount the Swedish way in a message: 1313,00 (decimal comma)."""
    return f"{value:.2f}".replace(".", ",")


def bankgiro_digits(text: str) -> str:
    """A bankgiro number as its digits without leading zeros: ``0001234566`` = ``123-4566``."""
    return re.sub(r"\D", "", text).lstrip("0")


def shown_bankgiro(digits: str) -> str:
    return f"{digits[:-4]}-{digits[-4:]}" if len(digits) > 4 else digits


# BgMax ------------------------------------------------------------------------------------------

# Every record type of "Bankgiro Inbetalningar – teknisk manual" (Bankgirot), by its name.
RECORD_NAMES = {
    "01": "startpost",
    "05": "öppningspost",
    "20": "betalningspost",
    "21": "avdragspost",
    "22": "extra referensnummerpost",
    "23": "extra referensnummerpost (negativt belopp)",
    "25": "informationspost",
    "26": "namnpost",
    "27": "adresspost 1",
    "28": "adresspost 2",
    "29": "organisationsnummerpost",
    "15": "insättningspost",
    "70": "slutpost",
}
REFERENCE_CODES = {"0", "1", "2", "3", "4", "5"}
CHANNEL_CODES = {"1", "2", "3", "4"}
DEDUCTION_CODES = {"0", "1", "2"}
# Records that describe the payment before them (name, address, text, extra references).
PAYMENT_DETAILS = {"22", "23", "25", "26", "27", "28", "29"}


def _digits(record: str, start: int, end: int, what: str, line: int, code: str) -> int:
    """Positions ``start``–``end`` (1-based, inclusive, as the manual counts) as a number."""
    text = record[start - 1 : end]
    if not text.isascii() or not text.isdigit():
        raise PaymentFileError(
            f"{what} (position {start}–{end}) ska vara siffror men är '{text.strip()}'. "
            + ADVICE_BANK,
            line=line,
            record=f"{code} {RECORD_NAMES[code]}",
        )
    return int(text)


def _text(record: str, start: int, end: int) -> str:
    return " ".join(record[start - 1 : end].split())


def _date(text: str, what: str, line: int, code: str) -> dt.date:
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise PaymentFileError(
            f"{what} '{text}' är inget datum (ÅÅÅÅMMDD). " + ADVICE_BANK,
            line=line,
            record=f"{code} {RECORD_NAMES[code]}",
        ) from None


def _records(content: bytes) -> list[tuple[int, str]]:
    # ISO 8859-1 maps every byte to a character, so decoding never fails; a record of another
    # length or with control characters is refused below instead.
    text = content.decode("iso-8859-1")
    if text.startswith("\ufeff") or text.startswith("ï»¿"):
        text = text[3:] if text.startswith("ï»¿") else text[1:]
    lines = text.split("\n")
    records: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        record = raw[:-1] if raw.endswith("\r") else raw
        if not record.strip():
            continue
        if len(record) > RECORD_LENGTH:
            raise PaymentFileError(
                f"posten är {len(record)} tecken lång, BgMax-poster är {RECORD_LENGTH}. "
                + ADVICE_BANK,
                line=number,
                record=record[:2],
            )
        if CONTROL.search(record):
            raise PaymentFileError(
                "posten innehåller styrtecken; en BgMax-fil är text i ISO 8859-1. " + ADVICE_BANK,
                line=number,
                record=record[:2],
            )
        # Some transfers strip the trailing blanks of a record: the positions are the same.
        records.append((number, record.ljust(RECORD_LENGTH)))
    return records


def read_bgmax(content: bytes, *, bankgiro: str) -> PaymentFile:
    """A BgMax file: start (01), per deposit an opening (05), payments (20) and deductions (21)
    each followed by their details (22, 23, 25–29), the deposit (15); the end (70).

    Refused whole, naming the line and record type: a record the manual does not list, a record
    out of place, a field that is not what the manual says, another receiving bankgiro than
    ``bankgiro``, a deposit (15) whose count or sum of its payments does not tie, an end record
    (70) whose counts do not tie, a serial number twice, a test file."""
    records = _records(content)
    if not records:
        raise PaymentFileError("filen är tom. " + ADVICE_BANK)
    expected_bankgiro = bankgiro_digits(bankgiro)
    payments: list[ReadPayment] = []
    deposits: list[Deposit] = []
    counts = {"20": 0, "21": 0, "22": 0, "15": 0}
    section: list[ReadPayment] | None = None
    current: ReadPayment | None = None
    seen_serials: dict[str, int] = {}
    created = ""
    ended = False
    receiving = ""

    for index, (line, record) in enumerate(records):
        code = record[:2]
        name = RECORD_NAMES.get(code)

        def refuse(message: str, line: int = line, code: str = code) -> PaymentFileError:
            label = f"{code} {RECORD_NAMES[code]}" if code in RECORD_NAMES else code
            return PaymentFileError(message, line=line, record=label)

        if name is None:
            raise PaymentFileError(
                f"posttypen '{code.strip()}' finns inte i Bankgirots BgMax-format (kända poster: "
                f"{', '.join(RECORD_NAMES)}). " + ADVICE_BANK,
                line=line,
                record=code,
            )
        if ended:
            raise refuse("det finns poster efter slutposten (70). " + ADVICE_BANK)
        if index == 0 and code != "01":
            raise refuse("filen ska börja med startposten (01). " + ADVICE_BANK)
        if code == "01":
            if index != 0:
                raise refuse("startposten (01) får bara finnas först i filen. " + ADVICE_BANK)
            layout = _text(record, 3, 22)
            version = record[22:24]
            if layout != "BGMAX":
                raise refuse(f"layoutnamnet är '{layout}', inte BGMAX. " + ADVICE_BANK)
            if version != "01":
                raise refuse(f"BgMax version '{version}' stöds inte (version 01). " + ADVICE_BANK)
            created = record[24:44].strip()
            if record[44] == "T":
                raise refuse(
                    "filen är en testfil från Bankgirot (testmarkering T i position 45); "
                    "testbetalningar läses inte in som riktiga betalningar. Läs in "
                    "produktionsfilen (P)."
                )
            if record[44] != "P":
                raise refuse(
                    f"testmarkeringen i position 45 är '{record[44]}', ska vara P (produktion). "
                    + ADVICE_BANK
                )
        elif code == "05":
            if section is not None:
                raise refuse(
                    "en ny öppningspost (05) innan förra insättningen avslutats med en "
                    "insättningspost (15). " + ADVICE_BANK
                )
            receiving = bankgiro_digits(record[2:12])
            if not receiving or not record[2:12].strip().isdigit():
                raise refuse("mottagarens bankgironummer (position 3–12) saknas. " + ADVICE_BANK)
            if expected_bankgiro and receiving != expected_bankgiro:
                raise refuse(
                    f"betalningarna gäller bankgiro {shown_bankgiro(receiving)}, inte vårt "
                    f"bankgiro {shown_bankgiro(expected_bankgiro)} (KORTFAKTURA_BANKGIRO). "
                    "Filen hör till någon annan; kontrollera inställningen eller filen."
                )
            currency = record[22:25]
            if currency != "SEK":
                raise refuse(
                    f"valutan är '{currency.strip()}', Kortfaktura tar emot betalningar i SEK. "
                    + ADVICE_BANK
                )
            section = []
            current = None
        elif code in ("20", "21"):
            if section is None:
                raise refuse(
                    f"{RECORD_NAMES[code]} utanför en insättning (ingen öppningspost 05 före). "
                    + ADVICE_BANK
                )
            amount_ore = _digits(record, 38, 55, "beloppet", line, code)
            reference_code = record[55]
            channel = record[56]
            if reference_code not in REFERENCE_CODES:
                raise refuse(
                    f"referenskoden (position 56) är '{reference_code}', ska vara 0–5. "
                    + ADVICE_BANK
                )
            if channel not in CHANNEL_CODES:
                raise refuse(
                    f"betalningskanalkoden (position 57) är '{channel}', ska vara 1–4. "
                    + ADVICE_BANK
                )
            serial = record[57:69]
            if not serial.isascii() or not serial.isdigit():
                raise refuse(
                    f"Bankgirots löpnummer (position 58–69) ska vara 12 siffror men är "
                    f"'{serial.strip()}'. " + ADVICE_BANK
                )
            if serial in seen_serials:
                raise refuse(
                    f"löpnumret {serial} finns redan på rad {seen_serials[serial]}: samma "
                    "betalning två gånger i en fil. " + ADVICE_BANK
                )
            if code == "21" and record[70] not in DEDUCTION_CODES:
                raise refuse(
                    f"avdragskoden (position 71) är '{record[70]}', ska vara 0, 1 eller 2. "
                    + ADVICE_BANK
                )
            seen_serials[serial] = line
            amount = Decimal(amount_ore).scaleb(-2)
            current = ReadPayment(
                key=serial,
                amount=-amount if code == "21" else amount,
                paid_on=dt.date.min,  # the deposit's payment day, set at its record 15
                reference=_text(record, 13, 37),
                payer_account=record[2:12].lstrip("0"),
                kind="deduction" if code == "21" else "payment",
                line=line,
                deposit=len(deposits),
            )
            section.append(current)
            counts[code] += 1
        elif code in PAYMENT_DETAILS:
            if current is None:
                raise refuse(
                    f"{RECORD_NAMES[code]} utan en betalning (20) eller ett avdrag (21) före. "
                    + ADVICE_BANK
                )
            if code in ("22", "23"):
                extra = Decimal(_digits(record, 38, 55, "beloppet", line, code)).scaleb(-2)
                current.extra_references.append(
                    (_text(record, 13, 37), -extra if code == "23" else extra)
                )
                counts["22"] += 1
            elif code == "25":
                text = _text(record, 3, 52)
                current.information = f"{current.information} {text}".strip()
            elif code == "26":
                current.payer = " ".join(
                    part for part in (_text(record, 3, 37), _text(record, 38, 72)) if part
                )
            elif code == "29":
                current.payer_orgnr = record[2:14].strip()
            # 27 and 28 (the payer's address) are understood and not kept: nothing uses them,
            # and a payer may be a person whose address is theirs (R16).
        elif code == "15":
            if section is None:
                raise refuse("insättningspost (15) utan öppningspost (05) före. " + ADVICE_BANK)
            paid_on = _date(record[37:45], "betalningsdagen", line, code)
            deposit_serial = record[45:50].strip()
            deposit_amount = Decimal(_digits(record, 51, 68, "insatt belopp", line, code)).scaleb(
                -2
            )
            currency = record[68:71]
            deposit_count = _digits(record, 72, 79, "antal betalningar", line, code)
            if currency != "SEK":
                raise refuse(f"valutan är '{currency.strip()}', inte SEK. " + ADVICE_BANK)
            stated = sum((payment.amount for payment in section), Decimal("0.00"))
            if deposit_count != len(section):
                raise refuse(
                    f"insättningen säger {deposit_count} betalningar men har {len(section)} "
                    "(betalningsposter 20 och avdragsposter 21): filen går inte ihop och lästes "
                    "inte in. " + ADVICE_BANK
                )
            if deposit_amount != stated:
                raise refuse(
                    f"insatt belopp {kronor(deposit_amount)} kr stämmer inte med betalningarna "
                    f"({kronor(stated)} kr, betalningar minus avdrag): filen går inte ihop och "
                    "lästes inte in. " + ADVICE_BANK
                )
            for payment in section:
                payment.paid_on = paid_on
            payments.extend(section)
            deposits.append(
                Deposit(
                    paid_on=paid_on,
                    serial=deposit_serial,
                    amount=deposit_amount,
                    count=deposit_count,
                    account=record[2:37].strip(),
                )
            )
            counts["15"] += 1
            section, current = None, None
        elif code == "70":
            if section is not None:
                raise refuse(
                    "slutposten (70) kommer innan insättningen avslutats med en "
                    "insättningspost (15). " + ADVICE_BANK
                )
            stated_counts = {
                "20": _digits(record, 3, 10, "antal betalningsposter", line, code),
                "21": _digits(record, 11, 18, "antal avdragsposter", line, code),
                "22": _digits(record, 19, 26, "antal extra referensnummerposter", line, code),
                "15": _digits(record, 27, 34, "antal insättningsposter", line, code),
            }
            for key, label in (
                ("20", "betalningsposter (20)"),
                ("21", "avdragsposter (21)"),
                ("22", "extra referensnummerposter (22, 23)"),
                ("15", "insättningsposter (15)"),
            ):
                if stated_counts[key] != counts[key]:
                    raise refuse(
                        f"slutposten säger {stated_counts[key]} {label} men filen har "
                        f"{counts[key]}: filen är inte hel och lästes inte in. " + ADVICE_BANK
                    )
            ended = True
    if not ended:
        raise PaymentFileError(
            "slutposten (70) saknas: filen är inte hel (avbruten överföring?) och lästes inte "
            "in. " + ADVICE_BANK,
            line=records[-1][0],
            record=records[-1][1][:2],
        )
    return PaymentFile(
        format=BGMAX,
        payments=payments,
        deposits=deposits,
        bankgiro=receiving,
        created=created,
    )
