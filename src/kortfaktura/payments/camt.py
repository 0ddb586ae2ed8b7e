"""ISO 20022 camt.054 (BankToCustomerDebitCreditNotification) as Swedish banks deliver it.

The file is validated against the official schema (``standards.CAMT_054_XSD``) before anything is
read from it. Each booked credit entry becomes one payment per transaction (``TxDtls``), keyed by
the account servicer's reference (R21): the transaction's own ``Refs/AcctSvcrRef``, else the
entry's ``AcctSvcrRef`` (numbered when the entry holds several transactions). The notification's
own totals (``TxsSummry``) must tie with its entries, and every entry with its transactions.
"""

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from kortfaktura import standards
from kortfaktura.payments.formats import (
    ADVICE_BANK,
    CAMT_054,
    Deposit,
    PaymentFile,
    PaymentFileError,
    ReadPayment,
    bankgiro_digits,
    kronor,
    shown_bankgiro,
)

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"
MAX_BYTES = 200 * 1024 * 1024


@functools.cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(standards.CAMT_054_XSD)))


def _parser() -> etree.XMLParser:
    # No entities, no network, no DTD: a payment file is data from outside.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _line(element: Any) -> int | None:
    line = getattr(element, "sourceline", None)
    return int(line) if line else None


def read_camt054(content: bytes, *, bankgiro: str) -> PaymentFile:
    if len(content) > MAX_BYTES:
        raise PaymentFileError("filen är för stor för en camt.054-avisering. " + ADVICE_BANK)
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as error:
        raise PaymentFileError(
            f"XML-filen går inte att läsa ({error.msg}). " + ADVICE_BANK,
            line=error.lineno or None,
        ) from None
    if root.getroottree().docinfo.doctype:
        # A bank's camt.054 has no DOCTYPE; entities in one are how XML files attack a reader.
        raise PaymentFileError(
            "filen har en DOCTYPE-deklaration, vilket en camt.054-avisering från banken aldrig "
            "har. " + ADVICE_BANK,
            line=1,
        )
    namespace = etree.QName(root).namespace or ""
    if namespace != NAMESPACE:
        version = namespace.rsplit(":", 1)[-1] if namespace else "utan namnrymd"
        raise PaymentFileError(
            f"versionen '{version}' stöds inte; Kortfaktura läser camt.054.001.02 "
            f"({NAMESPACE}). Be banken om den versionen.",
            line=_line(root),
        )
    validator = schema()
    try:
        valid = validator.validate(root)
    except etree.Error:
        raise PaymentFileError(
            "filen går inte att pröva mot ISO 20022-schemat för camt.054.001.02. " + ADVICE_BANK
        ) from None
    if not valid:
        first = validator.error_log[0] if validator.error_log else None
        detail = first.message if first is not None else "okänt fel"
        raise PaymentFileError(
            f"filen följer inte ISO 20022-schemat för camt.054.001.02 ({detail}). " + ADVICE_BANK,
            line=first.line if first is not None else None,
        )
    return _read(root, bankgiro)


def _find(element: Any, path: str) -> Any:
    return element.find(path, namespaces={"c": NAMESPACE})


def _findall(element: Any, path: str) -> list[Any]:
    return list(element.iterfind(path, namespaces={"c": NAMESPACE}))


def _text(element: Any, path: str) -> str:
    found = _find(element, path)
    return " ".join((found.text or "").split()) if found is not None else ""


def _amount(element: Any, what: str) -> Decimal:
    try:
        value = Decimal(element.text.strip())
    except (InvalidOperation, AttributeError):
        raise PaymentFileError(
            f"{what} är inget belopp. " + ADVICE_BANK, line=_line(element)
        ) from None
    currency = element.get("Ccy", "")
    if currency != "SEK":
        raise PaymentFileError(
            f"{what} är i {currency}; Kortfaktura tar emot betalningar i SEK. " + ADVICE_BANK,
            line=_line(element),
        )
    if value != value.quantize(Decimal("0.01")):
        raise PaymentFileError(
            f"{what} har fler än två decimaler. " + ADVICE_BANK, line=_line(element)
        )
    return value.quantize(Decimal("0.01"))


def _date(entry: Any) -> dt.date:
    for path in ("c:BookgDt/c:Dt", "c:BookgDt/c:DtTm", "c:ValDt/c:Dt", "c:ValDt/c:DtTm"):
        text = _text(entry, path)
        if text:
            try:
                return dt.date.fromisoformat(text[:10])
            except ValueError:
                break
    raise PaymentFileError(
        "posten saknar bokföringsdag (BookgDt). " + ADVICE_BANK, line=_line(entry)
    )


def _check_total(
    summary: Any, path: str, entries: list[Any], amounts: list[Decimal], label: str
) -> None:
    total = _find(summary, path) if summary is not None else None
    if total is None:
        return
    count_text = _text(total, "c:NbOfNtries")
    if count_text and int(count_text) != len(entries):
        raise PaymentFileError(
            f"aviseringens summering ({label}) säger {count_text} poster men filen har "
            f"{len(entries)}: filen går inte ihop och lästes inte in. " + ADVICE_BANK,
            line=_line(total),
        )
    sum_text = _text(total, "c:Sum")
    if sum_text and Decimal(sum_text) != sum(amounts, Decimal("0")):
        raise PaymentFileError(
            f"aviseringens summering ({label}) säger {kronor(Decimal(sum_text))} kr men posterna "
            f"är {kronor(sum(amounts, Decimal('0')))} kr: filen går inte ihop och lästes inte in. "
            + ADVICE_BANK,
            line=_line(total),
        )


def _read(root: Any, bankgiro: str) -> PaymentFile:
    expected = bankgiro_digits(bankgiro)
    payments: list[ReadPayment] = []
    deposits: list[Deposit] = []
    seen: dict[str, int] = {}
    message = _find(root, "c:BkToCstmrDbtCdtNtfctn")
    created = _text(message, "c:GrpHdr/c:CreDtTm")
    for index, notification in enumerate(_findall(message, "c:Ntfctn")):
        account = _find(notification, "c:Acct")
        scheme = _text(account, "c:Id/c:Othr/c:SchmeNm/c:Prtry") or _text(
            account, "c:Id/c:Othr/c:SchmeNm/c:Cd"
        )
        if scheme.upper() in ("BGNR", "BG"):
            receiving = bankgiro_digits(_text(account, "c:Id/c:Othr/c:Id"))
            if expected and receiving != expected:
                raise PaymentFileError(
                    f"aviseringen gäller bankgiro {shown_bankgiro(receiving)}, inte vårt "
                    f"bankgiro {shown_bankgiro(expected)} (KORTFAKTURA_BANKGIRO). Filen hör "
                    "till någon annan; kontrollera inställningen eller filen.",
                    line=_line(account),
                )
        entries = _findall(notification, "c:Ntry")
        all_amounts: list[Decimal] = []
        credit_entries: list[Any] = []
        credit_amounts: list[Decimal] = []
        debit_entries: list[Any] = []
        debit_amounts: list[Decimal] = []
        notification_payments: list[ReadPayment] = []
        for entry in entries:
            amount = _amount(_find(entry, "c:Amt"), "postens belopp (Amt)")
            all_amounts.append(amount)
            credit = _text(entry, "c:CdtDbtInd") == "CRDT"
            (credit_entries if credit else debit_entries).append(entry)
            (credit_amounts if credit else debit_amounts).append(amount)
            if not credit:
                continue  # a debit (e.g. a fee) is no incoming payment
            if _text(entry, "c:RvslInd").lower() == "true":
                raise PaymentFileError(
                    "posten är en återföring (RvslInd) av en tidigare betalning; sådana läses "
                    "inte in automatiskt. Hantera återföringen för hand och be banken om en fil "
                    "utan den.",
                    line=_line(entry),
                )
            if _text(entry, "c:Sts") != "BOOK":
                raise PaymentFileError(
                    f"posten har status '{_text(entry, 'c:Sts')}', inte bokförd (BOOK); bara "
                    "bokförda inbetalningar läses in. Läs in filen när banken bokfört dem.",
                    line=_line(entry),
                )
            notification_payments += _entry_payments(entry, amount, index, seen)
        summary = _find(notification, "c:TxsSummry")
        _check_total(summary, "c:TtlNtries", entries, all_amounts, "TtlNtries")
        _check_total(summary, "c:TtlCdtNtries", credit_entries, credit_amounts, "TtlCdtNtries")
        _check_total(summary, "c:TtlDbtNtries", debit_entries, debit_amounts, "TtlDbtNtries")
        payments += notification_payments
        deposits.append(
            Deposit(
                paid_on=max((p.paid_on for p in notification_payments), default=None),
                serial=_text(notification, "c:Id"),
                amount=sum(credit_amounts, Decimal("0.00")),
                count=len(notification_payments),
                account=_text(account, "c:Id/c:IBAN") or _text(account, "c:Id/c:Othr/c:Id"),
            )
        )
    return PaymentFile(
        format=CAMT_054, payments=payments, deposits=deposits, bankgiro=expected, created=created
    )


def _entry_payments(
    entry: Any, amount: Decimal, deposit: int, seen: dict[str, int]
) -> list[ReadPayment]:
    paid_on = _date(entry)
    entry_reference = _text(entry, "c:AcctSvcrRef")
    transactions = _findall(entry, "c:NtryDtls/c:TxDtls")
    found: list[ReadPayment] = []
    for number, details in enumerate(transactions or [None], start=1):
        key = _text(details, "c:Refs/c:AcctSvcrRef") if details is not None else ""
        if not key and entry_reference:
            key = entry_reference if len(transactions) <= 1 else f"{entry_reference}/{number}"
        if not key:
            raise PaymentFileError(
                "posten saknar bankens referens (AcctSvcrRef): utan den går det inte att se om "
                "betalningen redan lästs in. " + ADVICE_BANK,
                line=_line(details if details is not None else entry),
            )
        line = _line(details if details is not None else entry) or 0
        if key in seen:
            raise PaymentFileError(
                f"bankens referens {key} finns redan på rad {seen[key]}: samma betalning två "
                "gånger i en fil. " + ADVICE_BANK,
                line=line,
            )
        seen[key] = line
        part = amount
        if details is not None and len(transactions) > 1:
            stated = _find(details, "c:AmtDtls/c:TxAmt/c:Amt")
            if stated is None:
                stated = _find(details, "c:AmtDtls/c:InstdAmt/c:Amt")
            if stated is None:
                raise PaymentFileError(
                    "posten har flera transaktioner men en av dem saknar belopp (AmtDtls). "
                    + ADVICE_BANK,
                    line=line,
                )
            part = _amount(stated, "transaktionens belopp")
        reference, information, payer = "", "", ""
        if details is not None:
            reference = _text(details, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")
            information = " ".join(
                _text(element, ".") for element in _findall(details, "c:RmtInf/c:Ustrd")
            )
            payer = _text(details, "c:RltdPties/c:Dbtr/c:Nm")
        found.append(
            ReadPayment(
                key=key,
                amount=part,
                paid_on=paid_on,
                reference=reference,
                information=information,
                payer=payer,
                line=line,
                deposit=deposit,
            )
        )
    if len(found) > 1:
        total = sum((payment.amount for payment in found), Decimal("0.00"))
        if total != amount:
            raise PaymentFileError(
                f"postens belopp {kronor(amount)} kr stämmer inte med dess transaktioner "
                f"({kronor(total)} kr): filen går inte ihop och lästes inte in. " + ADVICE_BANK,
                line=_line(entry),
            )
    return found
