"""Importing what an earlier system invoiced (DOMAIN.md R7)."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import PreviouslyInvoiced

pytestmark = pytest.mark.django_db

MakeCsv = Callable[..., Path]
HEADER = ["order_id", "invoice_number", "invoice_date"]


def test_records_are_imported_once(csv_file: MakeCsv) -> None:
    rows = [["B1", "GF2019-01", "2019-02-15"], ["B2", "GF2019-01", ""], ["B3", "GF2019-02", "x"]]
    path = csv_file(HEADER, rows)
    result = import_file("billed", path)
    assert (result.imported, result.quarantined) == (2, 1)
    assert "invoice_date 'x'" in result.rows[0].reason
    assert PreviouslyInvoiced.objects.get(order_id="B1").invoice_date == dt.date(2019, 2, 15)
    again = import_file("billed", path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)


def test_changed_invoice_number_is_an_update(csv_file: MakeCsv) -> None:
    import_file("billed", csv_file(HEADER, [["B1", "GF2019-01", "2019-02-15"]]))
    result = import_file("billed", csv_file(HEADER, [["B1", "GF2019-07", "2019-02-15"]]))
    assert result.updated == 1
    assert PreviouslyInvoiced.objects.get().invoice_number == "GF2019-07"


def test_duplicates_and_missing_values(csv_file: MakeCsv) -> None:
    rows = [["B1", "GF1", ""], ["B1", "GF2", ""], ["", "GF3", ""], ["B4", "", ""]]
    result = import_file("billed", csv_file(HEADER, rows))
    assert (result.imported, result.quarantined) == (1, 3)
    assert [entry.line for entry in result.rows] == [3, 4, 5]
    assert "förekommer redan på rad 2" in result.rows[0].reason
    assert "order_id saknas" in result.rows[1].reason
    assert "invoice_number saknas" in result.rows[2].reason
