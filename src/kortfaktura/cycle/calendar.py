"""Swedish bank days (R24): the monthly draft is made on the ``KORTFAKTURA_BILLING_DAY``th bank
day of the month (default 3).

A bank day is a weekday that is not a public holiday (the maintained ``holidays`` package) and
not one of the days Swedish banks close although the law does not make them holidays:
midsommarafton, julafton and nyårsafton.
"""

import datetime as dt
from functools import cache

import holidays

# Not public holidays, but no bank is open (Bankgirot does not settle on them).
BANK_EVES = ("midsommarafton", "julafton", "nyårsafton")


def midsummer_eve(year: int) -> dt.date:
    """The Friday between 19 and 25 June."""
    day = dt.date(year, 6, 19)
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


@cache
def bank_holidays(year: int) -> frozenset[dt.date]:
    """Weekdays and weekend days alike on which banks are closed, besides every weekend."""
    public = holidays.country_holidays("SE", years=year, language="sv")
    days = {day for day, name in public.items() if "söndag" not in str(name).lower()}
    days |= {midsummer_eve(year), dt.date(year, 12, 24), dt.date(year, 12, 31)}
    return frozenset(days)


def is_bank_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def bank_days(year: int, month: int) -> list[dt.date]:
    day = dt.date(year, month, 1)
    days = []
    while day.month == month:
        if is_bank_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def billing_day(year: int, month: int, nth: int | None = None) -> dt.date:
    """The ``nth`` bank day of the month (default ``KORTFAKTURA_BILLING_DAY``, 3); a month
    with fewer bank days gives its last one."""
    if nth is None:
        from django.conf import settings

        nth = int(settings.BILLING_DAY)
    days = bank_days(year, month)
    return days[min(max(nth, 1), len(days)) - 1]
