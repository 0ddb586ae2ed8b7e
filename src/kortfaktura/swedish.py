"""Swedish presentation: amounts ``1 234,50 kr``, counts ``12 345``, months ``mars 2020``, days
``1 mars 2020`` and moments ``29 november 2026 kl. 03.12`` (Swedish time)."""

import datetime as dt
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
