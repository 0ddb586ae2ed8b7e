"""Parsing of the values in input files (INTERFACES.md), with Swedish error messages."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_HINT = "använd formatet ÅÅÅÅ-MM-DD, t.ex. 2020-03-31"
_TIME_HINT = (
    "använd ÅÅÅÅ-MM-DD, ÅÅÅÅ-MM-DD TT:MM (svensk tid) eller ISO 8601 med tidszon, "
    "t.ex. 2020-03-31T22:30:00Z"
)


class InvalidValue(ValueError):
    """A single value is wrong; the message names the column and says how to fix it."""


def parse_date(text: str, column: str) -> dt.date:
    value = text.strip()
    if not _DATE.fullmatch(value):
        raise InvalidValue(f"{column} '{value}' är inget datum – {_DATE_HINT}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{column} '{value}' är inget giltigt datum – {_DATE_HINT}") from None


def parse_local_date(text: str, column: str) -> dt.date:
    """The Europe/Stockholm calendar date of a date or a point in time (DOMAIN.md R1).

    Accepts ISO 8601 as Python reads it: ``2020-03-31``, ``2020-03-31 14:05`` (local time),
    ``2020-03-31T22:30:00Z`` or ``…+01:00``. A time without offset is already local; a time
    with an offset or ``Z`` is converted: ``2020-03-31T22:30:00Z`` is 2020-04-01 in Stockholm.
    """
    value = text.strip()
    if len(value) == 10:
        return parse_date(value, column)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{column} '{value}' är ingen giltig tidpunkt – {_TIME_HINT}") from None
    if moment.tzinfo is None:
        return moment.date()
    try:
        return moment.astimezone(STOCKHOLM).date()
    except (OverflowError, ValueError):
        raise InvalidValue(
            f"{column} '{value}' ligger utanför de datum som kan anges (år 1–9999 i svensk "
            f"tid) – {_TIME_HINT}"
        ) from None


PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def parse_decimal(text: str, column: str, *, places: int | None = None) -> Decimal:
    """``350``, ``350,00``, ``1 234,50`` or ``1234.50``; at most ``places`` decimals."""
    value = text.strip()
    compact = value.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if "," in compact and "." in compact:
        raise InvalidValue(
            f"{column} '{value}' är tvetydigt – använd bara decimalkomma eller decimalpunkt, "
            "utan tusentalsavgränsare (t.ex. 1234,50)"
        )
    compact = compact.replace(",", ".")
    # Only the digits 0–9 and one decimal sign: Decimal itself would also take "1e3" (a typo
    # that becomes 1 000) and digits of other scripts.
    if not PLAIN_NUMBER.fullmatch(compact):
        raise InvalidValue(f"{column} '{value}' är inget tal – skriv t.ex. 350 eller 350,00")
    try:
        number = Decimal(compact)
    except InvalidOperation:
        raise InvalidValue(
            f"{column} '{value}' är inget tal – skriv t.ex. 350 eller 350,00"
        ) from None
    if not number.is_finite():
        raise InvalidValue(f"{column} '{value}' är inget tal – skriv t.ex. 350 eller 350,00")
    exponent = number.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and exponent < -places:
        normalized = number.normalize()
        normalized_exponent = normalized.as_tuple().exponent
        if isinstance(normalized_exponent, int) and normalized_exponent < -places:
            raise InvalidValue(f"{column} '{value}' har fler än {places} decimaler")
        number = normalized
    return number


def too_long(value: str, limit: int, column: str) -> str | None:
    if len(value) > limit:
        return f"{column} är för långt ({len(value)} tecken, högst {limit})"
    return None
