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
import unicodedata
from collections.abc import Iterator

# A run of digits, and – looked ahead at, not consumed – a separator and the next run. The
# separator may be surrounded by spaces or tabs (a value's white space is collapsed before it is
# stored, so ``19800101<tab>1234`` would become ``19800101 1234``); ``_`` is how a header name
# shows a hyphen. A pattern that starts with a digit lets the regex engine skip text quickly
# (a leading look-behind made it several times slower on every row of a large file).
_RUNS = re.compile(r"(\d{6,})(?:(?=(\s*[-+_]?\s*)(\d+))|)")
_SIX_DIGITS = re.compile(r"\d{6}").search


def _candidates(text: str) -> Iterator[tuple[str, str, str, int, int]]:
    """(date part, separator, last four, start, start of the last four) of each candidate."""
    for match in _RUNS.finditer(text):
        run, separator, following = match.groups()
        size = len(run)
        if following is not None and size in (6, 8) and len(following) == 4:
            yield run, separator, following, match.start(1), match.start(3)
        elif size in (10, 12):
            start = match.start(1)
            yield run[:-4], "", run[-4:], start, start + size - 4


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


@functools.lru_cache(maxsize=4096)
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


@functools.lru_cache(maxsize=8192)
def _has_candidate(text: str) -> bool:
    return any(
        _is_personal_number(date_part, last_four, separator)
        for date_part, separator, last_four, _, _ in _candidates(text)
    )


def normalized(text: str) -> str:
    """Full-width and other compatibility digits and dashes as plain ones
    (``８００１０１－１２３４`` is a personnummer too); ASCII text is returned as it is."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def contains_personal_number(text: str) -> bool:
    """Cached, because the same organisation number stands on every row of an orders file."""
    text = normalized(text)
    return bool(_SIX_DIGITS(text)) and _has_candidate(text)


def mask(text: str) -> str:
    """``Anna 19800101-1234`` → ``Anna 19800101-****``; other text unchanged.

    Masks more than ``contains_personal_number`` finds: a bare run of 10 or 12 digits that starts
    with a valid date is masked even with a wrong check digit (what is stored or printed errs on
    the side of the person)."""
    text = normalized(text)
    if not _SIX_DIGITS(text):
        return text
    parts, done = [], 0
    for date_part, separator, last_four, start, last_start in _candidates(text):
        if start < done or not _is_personal_number(date_part, last_four, separator or "-"):
            continue
        parts.append(text[done:start])
        parts.append(f"{date_part}{separator.strip() or '-'}****")
        done = last_start + 4
    parts.append(text[done:])
    return "".join(parts)


# Outcomes per value, so that what repeats on every row of a large file (organisation number,
# unit, product, status, dates) is searched once; cleared when it grows large.
_VALUE_OUTCOMES: dict[str, bool] = {}
_VALUE_OUTCOMES_LIMIT = 100_000


def _value_has_personal_number(value: str) -> bool:
    found = _VALUE_OUTCOMES.get(value)
    if found is None:
        found = False
        text = normalized(value)
        if _SIX_DIGITS(text):
            for match in _RUNS.finditer(text):
                run, separator, following = match.groups()
                size = len(run)
                if following is not None and size in (6, 8) and len(following) == 4:
                    found = _is_personal_number(run, following, separator)
                elif size in (10, 12):
                    found = _is_personal_number(run[:-4], run[-4:], "")
                if found:
                    break
        if len(_VALUE_OUTCOMES) >= _VALUE_OUTCOMES_LIMIT:
            _VALUE_OUTCOMES.clear()
        _VALUE_OUTCOMES[value] = found
    return found


def personal_number_problem(header: list[str], values: list[str]) -> str | None:
    """The Swedish reason to hold back a row that carries a personal identity number.

    Runs for every row of a million-row file, value by value (a number is never found across
    two fields); what repeats from row to row is looked up, not searched again."""
    outcomes = _VALUE_OUTCOMES
    for index, value in enumerate(values):
        if len(value) < 10:  # too short for the ten digits of a personnummer
            continue
        found = outcomes.get(value)
        if found is None:
            found = _value_has_personal_number(value)
        if found:
            column = header[index] if index < len(header) and header[index] else f"fält {index + 1}"
            return (
                f"{column} innehåller ett personnummer eller samordningsnummer "
                f"({mask(value)}) – personnummer får inte lagras; ta bort "
                "det ur källfilen, ange t.ex. kortinnehavarens HSA-id i stället, och importera "
                "filen igen"
            )
    return None
