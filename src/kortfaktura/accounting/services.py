"""The SIE 4 export (``kortfaktura export sie``, docs/accounting.md).

The file is written whole or not at all (next to the target, then renamed); only then are the
export and its audit record saved, in one transaction.
"""

import datetime as dt
import hashlib
import itertools
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kortfaktura import __version__
from kortfaktura.accounting import sie
from kortfaktura.accounting.models import SieExport
from kortfaktura.accounting.selectors import booking, exports_overlapping
from kortfaktura.accounting.vouchers import (
    COST_CENTRE_DIMENSION,
    COST_CENTRE_DIMENSION_NAME,
    Booking,
    BookingError,
)
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.billing.chain import Head, chain_heads, heads_text
from kortfaktura.documents.services import os_reason, write_atomically
from kortfaktura.printable import problem

SUFFIXES = (".se", ".si", ".sie")
PROGRAM = "Kortfaktura"
REASON_LIMIT = 500  # characters: a sentence or two in the audit trail


class SieError(Exception):
    """The export cannot be made; Swedish, with what to do. Nothing was written."""


class SieUsageError(SieError):
    """Wrong use (e.g. a reversed period)."""


@dataclass
class SieResult:
    file: Path
    period_from: dt.date
    period_to: dt.date
    vouchers: int
    debit: Decimal
    credit: Decimal
    sha256: str
    first_number: int | None
    last_number: int | None
    warnings: list[str] = field(default_factory=list)
    export_id: int | None = None
    heads: list[Head] = field(default_factory=list)  # the chains' heads in the file (R19)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "vouchers": self.vouchers,
            "debit": str(self.debit),
            "credit": str(self.credit),
            "from": self.period_from.isoformat(),
            "to": self.period_to.isoformat(),
            "sha256": self.sha256,
            "first_number": self.first_number,
            "last_number": self.last_number,
            "warnings": list(self.warnings),
            "chains": [head.as_json() for head in self.heads],
        }


def check_target(path: Path) -> None:
    """An SIE file goes to a new file or replaces an earlier one: never a directory, a device,
    another kind of file or the database."""
    if path.suffix.lower() not in SUFFIXES:
        raise SieError(
            f"--out {path}: filnamnet ska sluta på .se, .si eller .sie, "
            "t.ex. var/ut/kortfaktura-2026-10.se"
        )
    if path.exists() and not path.is_file():
        raise SieError(
            f"--out {path} finns redan och är ingen vanlig fil (en katalog eller en enhet) – "
            "ange ett filnamn"
        )
    database = Path(str(settings.DATABASES["default"].get("NAME") or ""))
    if path.exists() and database.exists() and path.resolve() == database.resolve():
        raise SieError(f"--out {path} är databasen – ange ett annat filnamn")


def render_period(
    period_from: dt.date,
    period_to: dt.date,
    *,
    generated_by: str,
    generated: dt.date,
    heads: list[Head] | None = None,
) -> tuple[bytes, Booking]:
    """The file's content and the booking behind it; ``heads``, the hash chains' heads, go in a
    ``#PROSA`` record, so that every export carries a copy of them out of the system (R19)."""
    try:
        result = booking(period_from, period_to)
    except BookingError as error:
        raise SieError(str(error)) from error
    header = sie.Header(
        program=PROGRAM,
        version=__version__,
        generated=generated,
        generated_by=generated_by,
        orgnr=str(settings.SELLER["orgnr"]),
        company=str(settings.SELLER["name"]),
        years=sie.fiscal_years(period_from, period_to, settings.FISCAL_YEAR_START_MONTH),
        prose=heads_text(heads) if heads is not None else "",
    )
    try:
        content = sie.render(
            header,
            result.accounts,
            {COST_CENTRE_DIMENSION: COST_CENTRE_DIMENSION_NAME},
            result.objects,
            result.vouchers,
        )
    except sie.UnbalancedVoucherError as error:  # booking checked it; this is the last guard
        raise SieError(f"{error} – exporten avbröts och ingen fil skrevs") from error
    return content, result


ACCOUNT = re.compile(r"[0-9]{4,6}")
SERIES_TEXT = re.compile(r"[A-Za-z0-9]{1,10}")


def chart_in_use() -> dict[str, Any]:
    """The voucher series and the accounts of settings, as the export used them."""
    return {"series": settings.SIE_SERIES, "accounts": settings.ACCOUNTS}


def check_chart() -> None:
    """The chart of accounts from settings makes sense before anything is written: every
    account 4–6 digits, the series a short code, and no account used for two roles that would
    cancel each other out on one voucher."""
    accounts: dict[str, Any] = settings.ACCOUNTS
    revenue: dict[str, str] = accounts["revenue"]
    vat: dict[str, str] = accounts["vat"]
    named = {
        "KORTFAKTURA_ACCOUNT_RECEIVABLE": accounts["receivable"],
        "KORTFAKTURA_ACCOUNT_ROUNDING": accounts["rounding"],
        "KORTFAKTURA_ACCOUNT_INTERNAL_COST": accounts["internal_cost"],
        "KORTFAKTURA_ACCOUNT_INTERNAL_REVENUE": accounts["internal_revenue"],
        "KORTFAKTURA_ACCOUNT_BANK": accounts.get("bank", "1930"),
        **{f"KORTFAKTURA_ACCOUNT_REVENUE_{r}": a for r, a in revenue.items()},
        **{f"KORTFAKTURA_ACCOUNT_VAT_{r}": a for r, a in vat.items()},
    }
    for variable, account in named.items():
        if not ACCOUNT.fullmatch(str(account)):
            raise SieError(
                f"{variable}='{account}' är inget kontonummer – ange 4–6 siffror 0–9, t.ex. "
                "1510 (se docs/accounting.md)"
            )
    if not SERIES_TEXT.fullmatch(str(settings.SIE_SERIES)):
        raise SieError(
            f"KORTFAKTURA_SIE_SERIES='{settings.SIE_SERIES}' är ingen verifikationsserie – ange "
            "1–10 bokstäver eller siffror, t.ex. KF"
        )
    roles: dict[str, set[str]] = {
        "kundfordran": {accounts["receivable"]},
        "intäkt": set(revenue.values()),
        "utgående moms": set(vat.values()),
        "intern kostnad": {accounts["internal_cost"]},
        "intern intäkt": {accounts["internal_revenue"]},
        "bank": {accounts.get("bank", "1930")},
    }
    for first, second in itertools.combinations(roles, 2):
        shared = roles[first] & roles[second]
        if shared:
            raise SieError(
                f"konto {', '.join(sorted(shared))} är både {first} och {second} i kontoplanen – "
                "ge varje roll sitt eget konto (se docs/accounting.md)"
            )


def _period_warnings(period_from: dt.date, period_to: dt.date) -> list[str]:
    """An export of a period that has not ended, or that overlaps an earlier export, is made
    (the finance officer may want it) but said to be one."""
    warnings = []
    today = timezone.localdate()
    if period_to >= today:
        warnings.append(
            f"perioden slutar {period_to.isoformat()}, och dokument kan ännu utfärdas i den – "
            "de kommer inte med här; exportera en period först när den är slut, eller bara "
            "fram till i går"
        )
    for earlier in SieExport.objects.filter(
        period_from__lte=period_to, period_to__gte=period_from
    ).order_by("id"):
        warnings.append(
            f"perioden överlappar exporten {earlier.made_at:%Y-%m-%d} av "
            f"{earlier.period_from.isoformat()} – {earlier.period_to.isoformat()}: dokument som "
            "redan bokförts därifrån kommer med igen – läs bara in en av filerna"
        )
    return warnings


def _refuse_booked_payments(period_from: dt.date, period_to: dt.date) -> None:
    """A payment is booked once (R21): a period holding payments an earlier export booked is
    refused whole, naming the export, instead of booking them again."""
    from kortfaktura.payments.models import Payment

    booked = (
        Payment.objects.filter(paid_on__range=(period_from, period_to), booked_in__isnull=False)
        .select_related("booked_in")
        .order_by("paid_on", "id")
    )
    first = booked.first()
    if first is None or first.booked_in is None:
        return
    earlier = first.booked_in
    raise SieError(
        f"perioden {period_from.isoformat()} – {period_to.isoformat()} har "
        f"{booked.count()} betalningar som redan bokförts (t.ex. betalning {first.pk} i "
        f"exporten {earlier.made_at:%Y-%m-%d} av {earlier.period_from.isoformat()} – "
        f"{earlier.period_to.isoformat()}); en betalning bokförs bara en gång – exportera en "
        "period som börjar efter den exporten. Ingen fil skrevs."
    )


def check_reason(reason: str) -> str:
    """The reason given for exporting a period again, as it is stored: whitespace made single
    spaces, some visible text, no control or hidden characters, at most ``REASON_LIMIT``."""
    text = " ".join(reason.split())
    if not text:
        raise SieUsageError(
            "ange en orsak till att perioden exporteras igen, t.ex. ”Ekonomisystemet läste "
            "inte in oktoberfilen”"
        )
    if len(text) > REASON_LIMIT:
        raise SieUsageError(
            f"orsaken är {len(text)} tecken lång – skriv den med högst {REASON_LIMIT} tecken"
        )
    if unfit := problem(text):
        raise SieUsageError(f"orsaken {unfit} – skriv den utan det")
    return text


def _describe(export: SieExport) -> str:
    return (
        f"exporten {export.made_at:%Y-%m-%d %H:%M} av {export.made_by} "
        f"({export.period_from.isoformat()} – {export.period_to.isoformat()})"
    )


def _refuse_unexplained_overlap(period_from: dt.date, period_to: dt.date, reason: str) -> None:
    """A period an earlier export covers is exported again only with a reason: its documents
    would be booked twice if both files were read in (issue 21)."""
    if reason:
        return
    earlier = exports_overlapping(period_from, period_to)
    if earlier:
        raise SieError(
            f"perioden {period_from.isoformat()} – {period_to.isoformat()} överlappar "
            + ", ".join(_describe(export) for export in earlier)
            + " – dokument som redan bokförts skulle bokföras igen. Ange en orsak till att "
            "perioden exporteras igen, eller välj en period som börjar efter den exporten. "
            "Ingen fil skrevs."
        )


def _mark_booked(payment_ids: list[int], export: SieExport) -> None:
    """The payments are booked by this export, in its transaction; one that another export
    booked meanwhile fails the whole export."""
    from kortfaktura.payments.models import Payment

    marked = 0
    for start in range(0, len(payment_ids), 500):
        marked += Payment.objects.filter(
            pk__in=payment_ids[start : start + 500], booked_in__isnull=True
        ).update(booked_in=export)
    if marked != len(payment_ids):
        raise SieError(
            "en annan export bokförde samma betalningar under tiden – exportera perioden igen "
            "(filen som skrevs ska inte läsas in)"
        )


def export_sie(
    period_from: dt.date,
    period_to: dt.date,
    out: Path,
    *,
    reason: str = "",
    overlap_needs_reason: bool = False,
) -> SieResult:
    """Every document issued from ``period_from`` to ``period_to`` (issue dates, inclusive) as
    one voucher each, written to ``out``; the export is saved and recorded in the audit trail.

    ``reason`` says why a period is exported again; it is checked, stored and audited whenever
    given. With ``overlap_needs_reason`` (the web) a period that an earlier export covers is
    refused without one; the command line only warns, as it always has."""
    if period_from > period_to:
        raise SieUsageError(
            f"--from {period_from.isoformat()} är efter --to {period_to.isoformat()} – byt plats "
            "på datumen"
        )
    if period_from.year < 1900 or period_to.year > 2999:
        # The file lists every financial year of the period (#RAR); no voucher is that old or
        # that far ahead, and a year 10000 cannot be written at all.
        raise SieUsageError(
            f"perioden {period_from.isoformat()} – {period_to.isoformat()} ska ligga mellan år "
            "1900 och 2999 – ange perioden för de dokument du vill bokföra"
        )
    if not 1 <= settings.FISCAL_YEAR_START_MONTH <= 12:
        given = os.environ.get("KORTFAKTURA_FISCAL_YEAR_START", "")
        raise SieError(
            f"KORTFAKTURA_FISCAL_YEAR_START={given} är ingen månad – ange 1–12, t.ex. 1 för januari"
        )
    reason = check_reason(reason) if reason.strip() else ""
    check_chart()
    check_target(out)
    _refuse_booked_payments(period_from, period_to)
    if overlap_needs_reason:
        _refuse_unexplained_overlap(period_from, period_to, reason)
    overlapped = [export.pk for export in exports_overlapping(period_from, period_to)]
    actor = current_actor()
    heads = chain_heads()
    content, result = render_period(
        period_from, period_to, generated_by=actor, generated=timezone.localdate(), heads=heads
    )
    target = out.absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, content)
    except OSError as error:
        raise SieError(
            f"SIE-filen kunde inte skrivas till {out}: {os_reason(error)} – välj en katalog du "
            "kan skriva i"
        ) from error
    checksum = hashlib.sha256(content).hexdigest()
    warnings = [*result.warnings, *_period_warnings(period_from, period_to)]
    outcome = SieResult(
        file=target,
        period_from=period_from,
        period_to=period_to,
        vouchers=len(result.vouchers),
        debit=result.debit,
        credit=result.credit,
        sha256=checksum,
        first_number=result.first_number,
        last_number=result.last_number,
        warnings=warnings,
        heads=heads,
    )
    with transaction.atomic():
        export = SieExport.objects.create(
            made_by=actor,
            period_from=period_from,
            period_to=period_to,
            file=str(target),
            sha256=checksum,
            vouchers=outcome.vouchers,
            documents=result.documents,
            debit=outcome.debit,
            credit=outcome.credit,
            first_number=outcome.first_number,
            last_number=outcome.last_number,
            by_account={account: str(amount) for account, amount in result.by_account.items()},
            chart=chart_in_use(),
            reason=reason,
        )
        if result.payment_ids:
            _mark_booked(result.payment_ids, export)
        record(
            "export.sie",
            f"SIE {period_from.isoformat()}–{period_to.isoformat()}",
            {
                "checksum": checksum,
                "vouchers": outcome.vouchers,
                "debit": outcome.debit,
                "credit": outcome.credit,
                "file": str(target),
                "first_number": outcome.first_number,
                "last_number": outcome.last_number,
                "warnings": outcome.warnings,
                "chart": chart_in_use(),
                "heads": [head.expect for head in heads],
                "payments": len(result.payment_ids),
                "overlaps": overlapped,
                "reason": reason,
            },
            actor=actor,
        )
    outcome.export_id = export.pk
    return outcome
