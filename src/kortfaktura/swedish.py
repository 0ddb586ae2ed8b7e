"""Swedish presentation: amounts ``1 234,50 kr``, counts ``12 345``, months ``mars 2020``, days
``1 mars 2020`` and moments ``29 november 2026 kl. 03.12`` (Swedish time)."""

import datetime as dt
import errno
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "sv_SE"
SWEDISH_TIME = ZoneInfo("Europe/Stockholm")


def money(value: Decimal, *, currency: bool = True) -> str:
    text = format_decimal(value, format="#,##0.00", locale=LOCALE)
    return f"{text} kr" if currency else text


def count(number: int) -> str:
    return format_decimal(number, format="#,##0", locale=LOCALE)


def month(day: dt.date) -> str:
    return format_date(day, format="LLLL yyyy", locale=LOCALE)


def counted(number: int, singular: str, plural: str) -> str:
    """``1 faktura``, ``2 fakturor``, ``12 345 beställningar``."""
    return f"{count(number)} {singular if number == 1 else plural}"


def day(date: dt.date) -> str:
    """``1 mars 2020``."""
    return format_date(date, format="d MMMM y", locale=LOCALE)


def moment(at: dt.datetime) -> str:
    """An aware moment in Swedish time: ``29 november 2026 kl. 03.12``."""
    local = at.astimezone(SWEDISH_TIME)
    return f"{day(local.date())} kl. {local:%H.%M}"


# What the operating system's English (strerror) says, in Swedish; by errno, most specific first.
_OS_REASONS = {
    errno.ENOSPC: "disken är full",
    errno.EDQUOT: "diskkvoten är slut",
    errno.ENAMETOOLONG: (
        "namnet är för långt (högst 255 tecken per del av sökvägen och 4 096 för hela) – välj ett "
        "kortare namn"
    ),
    errno.ELOOP: "sökvägen har för många symboliska länkar (kanske en länk som pekar på sig själv)",
    errno.EBUSY: "platsen går inte att skriva till",
    errno.EROFS: "platsen går inte att skriva till",
    errno.EIO: "läs- eller skrivfel på disken",
    errno.EMFILE: "för många öppna filer",
    errno.ENFILE: "för många öppna filer",
    errno.EFBIG: "filen blir för stor för filsystemet",
    errno.ETXTBSY: "filen används av ett program",
    errno.EXDEV: "platsen ligger på ett annat filsystem",
    errno.EINVAL: "namnet är inte tillåtet på den här platsen",
    errno.ENXIO: "enheten finns inte",
    errno.ENODEV: "enheten finns inte",
    errno.EAGAIN: "resursen är tillfälligt upptagen – försök igen",
    errno.ESTALE: "nätverksenheten svarar inte längre (filen är inaktuell)",
}


def os_reason(error: BaseException) -> str:
    """Why a file or directory could not be used, in Swedish (never the system's English)."""
    if isinstance(error, PermissionError):
        return "behörighet saknas"
    if isinstance(error, IsADirectoryError):
        return "en katalog har samma namn"
    if isinstance(error, NotADirectoryError):
        return "en del av sökvägen är ingen katalog"
    number = error.errno if isinstance(error, OSError) else None
    if number in _OS_REASONS:
        return _OS_REASONS[number]
    if isinstance(error, FileNotFoundError):
        return "katalogen finns inte och kan inte skapas"
    if isinstance(error, FileExistsError):
        return "en fil har samma namn som en katalog i sökvägen"
    if isinstance(error, OSError) and number is not None:
        return f"operativsystemet svarade med felet {errno.errorcode.get(number, number)}"
    return f"{type(error).__name__}: {str(error)[:300]}"
