"""Finding and masking Swedish personal identity numbers in input text (DOMAIN.md R16).

A personnummer or samordningsnummer (day + 60) is 10 or 12 digits, ``YYMMDD-NNNN``,
``YYYYMMDD-NNNN``, ``YYMMDD+NNNN`` (over 100 years old) or with a space or nothing between the
date and the last four digits; the last digit is a Luhn check digit over the 10-digit form.
Written with a separator, a valid date suffices (a mistyped check digit does not make it less
personal); a bare run of 10 or 12 digits must also have a valid check digit, so that order ids
and other numbers are not mistaken for one.

What is not one: an organisationsnummer (its "month" is 20 or more), a GLN (13 digits), the digits
inside an HSA-id such as ``SE2321000131-P000000012345``, any run of digits longer than 12.

Pure Python, no Django: the row parsers use it in a helper process.
"""

import datetime as dt
import functools
import re

# Digits that are not part of a longer run of digits: 6 or 8, an optional separator, 4.
# The separator may be surrounded by spaces or tabs (a value's white space is collapsed before it
# is stored, so ``19800101<tab>1234`` would become ``19800101 1234``); ``_`` is how a header name
# shows a hyphen.
_CANDIDATE = re.compile(r"(?<!\d)(\d{8}|\d{6})(\s*[-+_]?\s*)(\d{4})(?!\d)")
_SIX_DIGITS = re.compile(r"\d{6}").search


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _date_ok(century_candidates: tuple[int, ...], yymmdd: str) -> bool:
    year, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:
        day -= 60  # samordningsnummer
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    for century in century_candidates:
        try:
            dt.date(century * 100 + year, month, day)
        except ValueError:
            continue
        return True
    return False


def _is_personal_number(date_part: str, last_four: str, separator: str = "") -> bool:
    if len(date_part) == 8:
        century = int(date_part[:2])
        if century not in (18, 19, 20):
            return False
        centuries: tuple[int, ...] = (century,)
        yymmdd = date_part[2:]
    else:
        centuries = (19, 20, 18)
        yymmdd = date_part
    if not _date_ok(centuries, yymmdd):
        return False
    # Written with a separator (YYMMDD-NNNN) the number is a personnummer even when its check
    # digit is mistyped; a bare run of digits must also carry a valid check digit.
    return bool(separator) or _luhn_ok(yymmdd + last_four)


def _mask_match(match: "re.Match[str]") -> str:
    date_part, separator, last_four = match.groups()
    if not _is_personal_number(date_part, last_four, separator):
        return match.group(0)
    return f"{date_part}{separator.strip() or '-'}****"


@functools.lru_cache(maxsize=8192)
def _has_candidate(text: str) -> bool:
    return any(
        _is_personal_number(m.group(1), m.group(3), m.group(2)) for m in _CANDIDATE.finditer(text)
    )


def contains_personal_number(text: str) -> bool:
    """Cached, because the same organisation number stands on every row of an orders file."""
    return bool(_SIX_DIGITS(text)) and _has_candidate(text)


def mask(text: str) -> str:
    """``Anna 19800101-1234`` → ``Anna 19800101-****``; other text unchanged."""
    if not _SIX_DIGITS(text):
        return text
    return _CANDIDATE.sub(_mask_match, text)


def personal_number_problem(header: list[str], values: list[str]) -> str | None:
    """The Swedish reason to hold back a row that carries a personal identity number."""
    if not _SIX_DIGITS("\x1f".join(values)):
        return None
    for index, value in enumerate(values):
        if _SIX_DIGITS(value) and _has_candidate(value):
            column = header[index] if index < len(header) and header[index] else f"fält {index + 1}"
            return (
                f"{column} innehåller ett personnummer eller samordningsnummer ({mask(value)}) – "
                "personnummer får inte lagras (DOMAIN.md R16); ta bort det ur källfilen, ange "
                "t.ex. kortinnehavarens HSA-id i stället, och importera filen igen"
            )
    return None
