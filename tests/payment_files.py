"""Builders of BgMax records and camt.054 documents for the payment tests: each field at the
position "Bankgiro Inbetalningar – teknisk manual" gives it (1-based, inclusive)."""

from collections.abc import Sequence
from decimal import Decimal

BANKGIRO = "1234566"  # the default KORTFAKTURA_BANKGIRO, 123-4566


def ore(amount: Decimal | str) -> int:
    return int(Decimal(amount) * 100)


def tk01(test: str = "P") -> str:
    return "01" + "BGMAX".ljust(20) + "01" + "20261201080000000000" + test + " " * 35


def tk05(bankgiro: str = BANKGIRO, currency: str = "SEK") -> str:
    return "05" + bankgiro.rjust(10, "0") + " " * 10 + currency + " " * 55


def tk20(
    reference: str,
    amount: Decimal | str,
    serial: int,
    *,
    code: str = "20",
    sender: str = "0",
    reference_code: str = "2",
    channel: str = "1",
    deduction_code: str = "0",
) -> str:
    record = (
        code + sender.rjust(10, "0") + reference.rjust(25) + str(ore(amount)).rjust(18, "0")
        + reference_code + channel + str(serial).rjust(12, "0") + "0"
    )  # fmt: skip
    return record + (deduction_code + " " * 9 if code == "21" else " " * 10)


def tk22(reference: str, amount: Decimal | str, *, code: str = "22") -> str:
    return (
        code + "0" * 10 + reference.rjust(25) + str(ore(amount)).rjust(18, "0") + "2" + "1"
        + "0" * 12 + "0" + " " * 10
    )  # fmt: skip


def tk25(text: str) -> str:
    return "25" + text.ljust(50) + " " * 28


def tk26(name: str, extra: str = "") -> str:
    return "26" + name.ljust(35) + extra.ljust(35) + " " * 8


def tk27(address: str, postal: str) -> str:
    return "27" + address.ljust(35) + postal.ljust(9) + " " * 34


def tk28(city: str, country: str = "", code: str = "") -> str:
    return "28" + city.ljust(35) + country.ljust(35) + code.ljust(2) + " " * 6


def tk29(orgnr: str) -> str:
    return "29" + orgnr.rjust(12, "0") + " " * 66


def tk15(day: str, amount: Decimal | str, count: int, serial: int = 1) -> str:
    return (
        "15" + "0000000000000000000000058410000010".rjust(35, "0") + day.replace("-", "")
        + str(serial).rjust(5, "0") + str(ore(amount)).rjust(18, "0") + "SEK"
        + str(count).rjust(8, "0") + " "
    )  # fmt: skip


def tk70(payments: int, deductions: int = 0, extra: int = 0, deposits: int = 1) -> str:
    return (
        "70" + str(payments).rjust(8, "0") + str(deductions).rjust(8, "0")
        + str(extra).rjust(8, "0") + str(deposits).rjust(8, "0") + " " * 46
    )  # fmt: skip


def bgmax(records: Sequence[str]) -> bytes:
    for record in records:
        assert len(record) == 80, (len(record), record)
    return ("\r\n".join(records) + "\r\n").encode("iso-8859-1")


def simple_bgmax(
    payments: Sequence[tuple[str, str, int]],
    day: str = "2026-12-01",
    deductions: Sequence[tuple[str, str, int]] = (),
) -> bytes:
    """One deposit: payments (reference, amount, serial) and deductions, tying."""
    records = [tk01(), tk05()]
    total = Decimal("0")
    for reference, amount, serial in payments:
        records.append(tk20(reference, amount, serial))
        total += Decimal(amount)
    for reference, amount, serial in deductions:
        records.append(tk20(reference, amount, serial, code="21"))
        total -= Decimal(amount)
    records.append(tk15(day, total, len(payments) + len(deductions)))
    records.append(tk70(len(payments), len(deductions)))
    return bgmax(records)


CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


def camt_entry(
    reference: str,
    amount: str,
    key: str,
    *,
    day: str = "2026-12-01",
    structured: bool = True,
    debtor: str = "Vårgårda kommun",
    credit: bool = True,
    status: str = "BOOK",
) -> str:
    remittance = (
        f"<RmtInf><Strd><CdtrRefInf><Ref>{reference}</Ref></CdtrRefInf></Strd></RmtInf>"
        if structured
        else f"<RmtInf><Ustrd>{reference}</Ustrd></RmtInf>"
    )
    remittance = remittance if reference else ""
    return (
        f'<Ntry><Amt Ccy="SEK">{amount}</Amt><CdtDbtInd>{"CRDT" if credit else "DBIT"}'
        f"</CdtDbtInd><Sts>{status}</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt>"
        f"</ValDt><AcctSvcrRef>{key}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
        f"<SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs>"
        f"<AcctSvcrRef>{key}</AcctSvcrRef></Refs><RltdPties><Dbtr><Nm>{debtor}</Nm></Dbtr>"
        f"</RltdPties>{remittance}</TxDtls></NtryDtls></Ntry>"
    )


def camt(
    entries: Sequence[str],
    *,
    bankgiro: str = BANKGIRO,
    count: int | None = None,
    total: str | None = None,
) -> bytes:
    summary = ""
    if count is not None or total is not None:
        summary = (
            "<TxsSummry><TtlCdtNtries>"
            + (f"<NbOfNtries>{count}</NbOfNtries>" if count is not None else "")
            + (f"<Sum>{total}</Sum>" if total is not None else "")
            + "</TtlCdtNtries></TxsSummry>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_NS}">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>MSG-1</MsgId>"
        "<CreDtTm>2026-12-01T08:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N-1</Id>"
        "<CreDtTm>2026-12-01T08:00:00</CreDtTm><Acct><Id><Othr><Id>"
        f"{bankgiro}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id><Ccy>SEK</Ccy></Acct>"
        + summary
        + "\n"
        + "\n".join(entries)
        + "\n</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"
    ).encode()
