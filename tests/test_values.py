"""Values in input files: dates, the local order date (DOMAIN.md R1) and amounts."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kortfaktura.imports.values import (
    STOCKHOLM,
    InvalidValue,
    parse_date,
    parse_decimal,
    parse_local_date,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2020-03-31T22:30:00Z", dt.date(2020, 4, 1)),  # CEST: 00:30 on 1 April
        ("2020-10-31T23:30:00Z", dt.date(2020, 11, 1)),  # CET: 00:30 on 1 November
        ("2020-10-31T22:30:00Z", dt.date(2020, 10, 31)),  # CET: 23:30 the same day
        ("2020-03-31 23:30", dt.date(2020, 3, 31)),  # local time stays
        ("2020-03-31T23:59:59", dt.date(2020, 3, 31)),
        ("2020-03-31T23:30:00+02:00", dt.date(2020, 3, 31)),
        ("2020-03-31T23:30:00-05:00", dt.date(2020, 4, 1)),
        ("2020-03-31", dt.date(2020, 3, 31)),
        ("2021-12-31T23:00:00.123Z", dt.date(2022, 1, 1)),
    ],
)
def test_order_date_is_the_stockholm_calendar_date(given: str, expected: dt.date) -> None:
    assert parse_local_date(given, "ordered_at") == expected


@pytest.mark.parametrize(
    "given", ["2021-02-30", "2021-02-30 10:15", "31/03/2020", "igår", "2020-3-1"]
)
def test_impossible_dates_are_refused_with_the_column_name(given: str) -> None:
    with pytest.raises(InvalidValue, match="ordered_at"):
        parse_local_date(given, "ordered_at")


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 12, 31)))
def test_utc_times_convert_like_zoneinfo(moment: dt.datetime) -> None:
    utc = moment.replace(tzinfo=dt.UTC)
    text = utc.isoformat().replace("+00:00", "Z")
    assert parse_local_date(text, "ordered_at") == utc.astimezone(STOCKHOLM).date()


def test_parse_date_requires_iso() -> None:
    assert parse_date("2019-01-01", "valid_from") == dt.date(2019, 1, 1)
    with pytest.raises(InvalidValue, match="ÅÅÅÅ-MM-DD"):
        parse_date("2019-01-01 10:00", "valid_from")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("350", Decimal("350")),
        ("350,00", Decimal("350.00")),
        ("350.5", Decimal("350.5")),
        ("1 234,50", Decimal("1234.50")),
        ("1\u00a0234,50", Decimal("1234.50")),
        ("12,50", Decimal("12.50")),
        ("350,000", Decimal("350")),
    ],
)
def test_decimals_with_comma_or_point(given: str, expected: Decimal) -> None:
    assert parse_decimal(given, "unit_price", places=2) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("1.234,50", "tvetydigt"),
        ("35O", "inget tal"),
        ("12,345", "fler än 2 decimaler"),
        ("NaN", "inget tal"),
    ],
)
def test_bad_amounts_are_explained(given: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        parse_decimal(given, "unit_price", places=2)
