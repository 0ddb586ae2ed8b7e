"""Importing the price list: effective-dated prices that never overlap (INTERFACES.md)."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import PRICE_HEADER
from kortfaktura.catalog.models import Price, Product
from kortfaktura.imports.services import import_file

pytestmark = pytest.mark.django_db

MakeCsv = Callable[..., Path]
DEMO = [
    ["ETK", "eTjänstekort", "350,00", "25", "2019-01-01", ""],
    ["RESERV", "Reservkort", "200", "", "2019-01-01", ""],
    ["PUK", "PUK-kod", "150.00", "25", "2019-01-01", ""],
]


def periods(code: str) -> list[tuple[dt.date, dt.date | None, Decimal]]:
    return list(
        Price.objects.filter(product__code=code)
        .order_by("valid_from")
        .values_list("valid_from", "valid_to", "unit_price")
    )


def test_demo_price_list(csv_file: MakeCsv) -> None:
    result = import_file("prices", csv_file(PRICE_HEADER, DEMO))
    assert (result.imported, result.quarantined) == (3, 0)
    etk = Price.objects.get(product__code="ETK")
    assert (etk.unit_price, etk.vat_rate, etk.valid_to) == (Decimal("350.00"), Decimal("25"), None)
    assert Price.objects.get(product__code="RESERV").vat_rate == Decimal("25")
    again = import_file("prices", csv_file(PRICE_HEADER, DEMO))
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)


@pytest.mark.parametrize("new_first", [True, False])
def test_closing_the_old_period_and_opening_a_new_one_in_any_row_order(
    csv_file: MakeCsv, new_first: bool
) -> None:
    import_file("prices", csv_file(PRICE_HEADER, DEMO[:1]))
    rows = [
        ["ETK", "eTjänstekort", "375", "25", "2023-01-01", ""],
        ["ETK", "eTjänstekort", "350", "25", "2019-01-01", "2022-12-31"],
    ]
    result = import_file("prices", csv_file(PRICE_HEADER, rows if new_first else rows[::-1]))
    assert (result.imported, result.updated, result.quarantined) == (1, 1, 0)
    assert periods("ETK") == [
        (dt.date(2019, 1, 1), dt.date(2022, 12, 31), Decimal("350.00")),
        (dt.date(2023, 1, 1), None, Decimal("375.00")),
    ]


def test_overlapping_period_is_quarantined(csv_file: MakeCsv) -> None:
    import_file("prices", csv_file(PRICE_HEADER, DEMO[:1]))
    result = import_file(
        "prices", csv_file(PRICE_HEADER, [["ETK", "eTjänstekort", "375", "25", "2023-01-01", ""]])
    )
    assert result.quarantined == 1
    assert "överlappar befintligt pris 350.00 kr (2019-01-01–tills vidare)" in result.rows[0].reason
    assert len(periods("ETK")) == 1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["ETK", "eTjänstekort", "-5", "25", "2019-01-01", ""], "negativt"),
        (["ETK", "eTjänstekort", "350,555", "25", "2019-01-01", ""], "fler än 2 decimaler"),
        (["ETK", "eTjänstekort", "tre", "25", "2019-01-01", ""], "inget tal"),
        (["ETK", "eTjänstekort", "350", "125", "2019-01-01", ""], "25, 12, 6 eller 0"),
        (["ETK", "eTjänstekort", "350", "30", "2019-01-01", ""], "25, 12, 6 eller 0"),
        (["ETK", "eTjänstekort", "350", "0,3", "2019-01-01", ""], "ingen svensk momssats"),
        (["ETK", "eTjänstekort", "350", "0,25", "2019-01-01", ""], "ingen svensk momssats"),
        (["ETK", "eTjänstekort", "9999999999,99", "25", "2019-01-01", ""], "1 000 000 kr"),
        (["ETK", "eTjänstekort", "1000000,01", "25", "2019-01-01", ""], "1 000 000 kr"),
        (["ETK", "eTjänstekort", "350", "25", "2019-13-01", ""], "valid_from"),
        (["ETK", "eTjänstekort", "350", "25", "2020-01-01", "2019-12-31"], "ligger före"),
        (["", "eTjänstekort", "350", "25", "2020-01-01", ""], "product_code saknas"),
        (["ETK", "eTjänstekort", "", "25", "2020-01-01", ""], "unit_price saknas"),
    ],
)
def test_invalid_price_rows(csv_file: MakeCsv, row: list[str], reason: str) -> None:
    result = import_file("prices", csv_file(PRICE_HEADER, [row]))
    assert result.quarantined == 1
    assert reason in result.rows[0].reason
    assert Price.objects.count() == 0


def test_same_period_twice_and_conflicting_names(csv_file: MakeCsv) -> None:
    rows = [
        ["ETK", "eTjänstekort", "350", "25", "2019-01-01", "2019-12-31"],
        ["ETK", "eTjänstekort", "360", "25", "2019-01-01", "2019-12-31"],
        ["ETK", "E-tjänstekort", "370", "25", "2020-01-01", ""],
    ]
    result = import_file("prices", csv_file(PRICE_HEADER, rows))
    assert (result.imported, result.quarantined) == (1, 2)
    assert "finns redan på rad 2" in result.rows[0].reason
    assert "skiljer sig från" in result.rows[1].reason


def test_price_and_name_changes_count_as_updates(csv_file: MakeCsv) -> None:
    import_file("prices", csv_file(PRICE_HEADER, DEMO))
    changed = [["ETK", "eTjänstekort (SITHS)", "350", "25", "2019-01-01", ""], DEMO[1]]
    result = import_file("prices", csv_file(PRICE_HEADER, changed))
    assert (result.updated, result.unchanged) == (1, 1)
    assert Product.objects.get(code="ETK").name == "eTjänstekort (SITHS)"
