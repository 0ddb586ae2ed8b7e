"""The SIE 4 export (``kortfaktura export sie``, docs/accounting.md).

The file is written whole or not at all (next to the target, then renamed); only then are the
export and its audit record saved, in one transaction.
"""

import datetime as dt
import hashlib
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
from kortfaktura.accounting.selectors import booking
from kortfaktura.accounting.vouchers import (
    COST_CENTRE_DIMENSION,
    COST_CENTRE_DIMENSION_NAME,
    Booking,
    BookingError,
)
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.documents.services import os_reason, write_atomically

SUFFIXES = (".se", ".si", ".sie")
PROGRAM = "Kortfaktura"


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
    period_from: dt.date, period_to: dt.date, *, generated_by: str, generated: dt.date
) -> tuple[bytes, Booking]:
    """The file's content and the booking behind it."""
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


def export_sie(period_from: dt.date, period_to: dt.date, out: Path) -> SieResult:
    """Every document issued from ``period_from`` to ``period_to`` (issue dates, inclusive) as
    one voucher each, written to ``out``; the export is saved and recorded in the audit trail."""
    if period_from > period_to:
        raise SieUsageError(
            f"--from {period_from.isoformat()} är efter --to {period_to.isoformat()} – byt plats "
            "på datumen"
        )
    if not 1 <= settings.FISCAL_YEAR_START_MONTH <= 12:
        raise SieError(
            f"KORTFAKTURA_FISCAL_YEAR_START={settings.FISCAL_YEAR_START_MONTH} är ingen månad – "
            "ange 1–12, t.ex. 1 för januari"
        )
    check_target(out)
    actor = current_actor()
    content, result = render_period(
        period_from, period_to, generated_by=actor, generated=timezone.localdate()
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
        warnings=list(result.warnings),
    )
    with transaction.atomic():
        export = SieExport.objects.create(
            made_by=actor,
            period_from=period_from,
            period_to=period_to,
            file=str(target),
            sha256=checksum,
            vouchers=outcome.vouchers,
            documents=outcome.vouchers,
            debit=outcome.debit,
            credit=outcome.credit,
            first_number=outcome.first_number,
            last_number=outcome.last_number,
        )
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
            },
            actor=actor,
        )
    outcome.export_id = export.pk
    return outcome
