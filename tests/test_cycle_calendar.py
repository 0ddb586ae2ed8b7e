"""Swedish bank days and the billing day (R24): against a table written by hand from a
calendar, not computed by the code under test."""

import datetime as dt

import pytest

from kortfaktura.cycle.calendar import billing_day, is_bank_day

# The 3rd bank day (the default KORTFAKTURA_BILLING_DAY) of each month, January to December:
# the day of the month, counted on a calendar with weekends and these bank holidays in the
# first days of a month: 1 and 6 January, 1 May, 6 June, and Easter and Ascension where they
# fall early (2024: Easter Monday 1 April; 2026: Good Friday 3 April and Easter Monday 6 April;
# 2027: Ascension 6 May; 2029: Easter Monday 2 April). E.g. January 2026: the 1st (Thursday)
# and 6th (Tuesday) are holidays, so the bank days are 2, 5, 7.
THIRD_BANK_DAY = {
    2024: [4, 5, 5, 4, 6, 5, 3, 5, 4, 3, 5, 4],
    2025: [7, 5, 5, 3, 6, 4, 3, 5, 3, 3, 5, 3],
    2026: [7, 4, 4, 7, 6, 3, 3, 5, 3, 5, 4, 3],
    2027: [7, 3, 3, 5, 5, 3, 5, 4, 3, 5, 3, 3],
    2028: [5, 3, 3, 5, 4, 5, 5, 3, 5, 4, 3, 5],
    2029: [4, 5, 5, 5, 4, 5, 4, 3, 5, 3, 5, 5],
    2030: [4, 5, 5, 3, 6, 5, 3, 5, 4, 3, 5, 4],
}


@pytest.mark.parametrize("year", sorted(THIRD_BANK_DAY))
def test_the_third_bank_day_of_every_month_2024_to_2030(year: int) -> None:
    found = [billing_day(year, month, 3).day for month in range(1, 13)]
    assert found == THIRD_BANK_DAY[year]


def test_the_billing_day_setting_is_the_default(settings: object) -> None:
    assert billing_day(2026, 1) == dt.date(2026, 1, 7)
    settings.BILLING_DAY = 1  # type: ignore[attr-defined]
    assert billing_day(2026, 1) == dt.date(2026, 1, 2)
    settings.BILLING_DAY = 5  # type: ignore[attr-defined]
    assert billing_day(2026, 4) == dt.date(2026, 4, 9)


# Days banks are closed although they are weekdays, written from the calendar.
CLOSED = [
    "2024-03-29", "2024-04-01", "2024-05-09", "2024-06-06", "2024-06-21", "2024-12-24",
    "2024-12-25", "2024-12-26", "2024-12-31", "2025-01-01", "2025-01-06", "2025-04-18",
    "2025-04-21", "2025-05-01", "2025-05-29", "2025-06-06", "2025-06-20", "2025-12-24",
    "2025-12-25", "2025-12-26", "2025-12-31", "2026-01-01", "2026-01-06", "2026-04-03",
    "2026-04-06", "2026-05-01", "2026-05-14", "2026-06-19", "2026-12-24", "2026-12-25",
    "2026-12-31", "2027-03-26", "2027-03-29", "2027-05-06", "2027-06-25", "2027-12-24",
    "2027-12-31", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-25", "2028-06-06",
    "2028-06-23", "2029-03-30", "2029-04-02", "2029-05-01", "2029-05-10", "2029-06-06",
    "2029-06-22", "2029-12-24", "2029-12-25", "2029-12-26", "2029-12-31", "2030-01-01",
    "2030-04-19", "2030-04-22", "2030-05-01", "2030-05-30", "2030-06-06", "2030-06-21",
    "2030-12-24", "2030-12-25", "2030-12-26", "2030-12-31",
]  # fmt: skip
OPEN = ["2026-06-22", "2026-12-23", "2026-12-30", "2027-01-07", "2030-06-24", "2029-12-27"]


@pytest.mark.parametrize("day", CLOSED)
def test_bank_holidays_including_the_three_eves_are_no_bank_days(day: str) -> None:
    assert dt.date.fromisoformat(day).weekday() < 5  # the table lists weekdays only
    assert not is_bank_day(dt.date.fromisoformat(day))


@pytest.mark.parametrize("day", OPEN)
def test_ordinary_weekdays_next_to_holidays_are_bank_days(day: str) -> None:
    assert is_bank_day(dt.date.fromisoformat(day))
