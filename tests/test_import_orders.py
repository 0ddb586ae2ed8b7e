"""Importing orders: every row ends imported, updated, unchanged or quarantined (DOMAIN.md R14)."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, VARGARDA, customer_row, order_row
from kortfaktura.customers.models import Customer
from kortfaktura.imports import pipeline, readers
from kortfaktura.imports.engine import ImportFailed
from kortfaktura.imports.models import ImportBatch, QuarantinedRow
from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import Order, OrderChange, OrderStatus
from kortfaktura.orders.parsing import ORDER_STATUSES

pytestmark = pytest.mark.django_db

MakeCsv = Callable[..., Path]


@pytest.fixture(params=["in-process", "helper-process"])
def parsing_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Large files are parsed in a helper process; run the same checks both ways."""
    if request.param == "helper-process":
        monkeypatch.setattr(pipeline, "HELPER_PROCESS_MIN_BYTES", 0)
    return str(request.param)


def test_bad_rows_are_quarantined_with_line_and_reason_and_the_rest_imported(
    csv_file: MakeCsv, parsing_mode: str
) -> None:
    path = csv_file(
        ORDER_HEADER,
        [
            order_row("B1"),
            order_row("B2", ordered_at="2020-02-30"),  # line 3: invalid date
            order_row("", ordered_at="2020-03-02 09:00"),  # line 4: missing order id
            order_row("B4", orgnr=""),  # line 5: missing organisationsnummer
            order_row("B5", orgnr="212000-1455"),  # line 6: invalid organisationsnummer
            order_row("B6", ordered_at="2020-03-31T22:30:00Z"),
        ],
    )
    result = import_file("orders", path)
    assert (result.imported, result.updated, result.unchanged, result.quarantined) == (2, 0, 0, 4)
    reasons = {entry.line: entry.reason for entry in result.rows}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "ordered_at '2020-02-30'" in reasons[3]
    assert "order_id saknas" in reasons[4]
    assert "orgnr saknas" in reasons[5]
    assert "kontrollsiffran stämmer inte" in reasons[6]
    assert set(Order.objects.values_list("order_id", flat=True)) == {"B1", "B6"}
    stored = QuarantinedRow.objects.filter(batch_id=result.batch_id).order_by("line")
    assert [row.line for row in stored] == [3, 4, 5, 6]
    assert stored[0].raw["order_id"] == "B2"
    assert stored[0].raw["ordered_at"] == "2020-02-30"

    again = import_file("orders", path)
    assert (again.imported, again.updated, again.unchanged, again.quarantined) == (0, 0, 2, 4)
    assert Order.objects.count() == 2


def test_order_dates_follow_stockholm_time(csv_file: MakeCsv) -> None:
    path = csv_file(
        ORDER_HEADER,
        [
            order_row("A", ordered_at="2020-03-31T22:30:00Z"),
            order_row("B", ordered_at="2020-10-31T23:30:00Z"),
            order_row("C", ordered_at="2020-03-31 23:30"),
            order_row("D", ordered_at="2020-03-31"),
        ],
    )
    import_file("orders", path)
    dates = dict(Order.objects.values_list("order_id", "order_date"))
    assert dates == {
        "A": dt.date(2020, 4, 1),
        "B": dt.date(2020, 11, 1),
        "C": dt.date(2020, 3, 31),
        "D": dt.date(2020, 3, 31),
    }
    assert Order.objects.get(order_id="A").ordered_at == "2020-03-31T22:30:00Z"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (order_row("X", status="tappad"), "status 'tappad' är okänd"),
        (order_row("X", status_at="förra veckan"), "status_at"),
        (order_row("X", product_code=""), "product_code saknas"),
        (order_row("X", ordered_at=""), "ordered_at saknas"),
        (order_row("X", holder_hsa_id="19121212-1212"), "personnummer"),
        (order_row("X", holder_hsa_id="191212121212"), "personnummer"),
        (order_row("X" * 65), "order_id är för långt"),
        (order_row("X", unit_code="U" * 65), "unit_code är för långt"),
        (order_row("X", orgnr="12345"), "har 5 siffror"),
    ],
)
def test_each_quarantine_reason(csv_file: MakeCsv, row: list[str], reason: str) -> None:
    result = import_file("orders", csv_file(ORDER_HEADER, [row]))
    assert result.quarantined == 1
    assert reason in result.rows[0].reason
    assert Order.objects.count() == 0


def test_duplicate_order_id_in_one_file(csv_file: MakeCsv) -> None:
    result = import_file("orders", csv_file(ORDER_HEADER, [order_row("B1"), order_row("B1")]))
    assert (result.imported, result.quarantined) == (1, 1)
    assert "förekommer redan på rad 2" in result.rows[0].reason


def test_row_with_surplus_fields_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code\nB1;2020-03-01;2120001454;ETK;oj;extra\n"
        "B2;2020-03-01;2120001454;ETK;\n",
        encoding="utf-8",
    )
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (1, 1)
    assert "har 6 fält men rubrikraden har 4" in result.rows[0].reason


def test_blank_lines_are_counted_not_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code\nB1;2020-03-01;2120001454;ETK\n;;;\n\n",
        encoding="utf-8",
    )
    result = import_file("orders", path)
    assert (result.imported, result.quarantined, result.blank_lines) == (1, 0, 2)


def test_changes_are_applied_and_recorded(csv_file: MakeCsv) -> None:
    first = import_file("orders", csv_file(ORDER_HEADER, [order_row("B1"), order_row("B2")]))
    changed = csv_file(
        ORDER_HEADER,
        [
            order_row("B1", status="revoked", status_at="2021-01-05"),
            order_row("B2", ordered_at="2020-04-01 08:00", unit_code="SOC"),
        ],
    )
    result = import_file("orders", changed)
    assert (result.imported, result.updated, result.unchanged) == (0, 2, 0)
    b1, b2 = Order.objects.get(order_id="B1"), Order.objects.get(order_id="B2")
    assert (b1.status, b1.status_at) == ("revoked", "2021-01-05")
    assert (b2.order_date, b2.unit_code) == (dt.date(2020, 4, 1), "SOC")
    assert b2.first_batch_id == first.batch_id
    assert b2.last_batch_id == result.batch_id
    recorded = {
        (change.order.order_id, change.field): (change.old_value, change.new_value)
        for change in OrderChange.objects.filter(batch_id=result.batch_id)
    }
    assert recorded == {
        ("B1", "status"): ("collected", "revoked"),
        ("B1", "status_at"): ("", "2021-01-05"),
        ("B2", "ordered_at"): ("2020-03-15 10:00", "2020-04-01 08:00"),
        ("B2", "order_date"): ("2020-03-15", "2020-04-01"),
        ("B2", "unit_code"): ("", "SOC"),
    }


def test_a_file_without_an_optional_column_leaves_that_field_alone(
    csv_file: MakeCsv,
) -> None:
    import_file("orders", csv_file(ORDER_HEADER, [order_row("B1", status="revoked")]))
    slim = csv_file(
        ["order_id", "ordered_at", "orgnr", "product_code"],
        [["B1", "2020-03-15 10:00", VARGARDA, "ETK"]],
    )
    result = import_file("orders", slim)
    assert (result.updated, result.unchanged) == (0, 1)
    assert Order.objects.get(order_id="B1").status == "revoked"


def test_unknown_customer_is_kept_and_resolved_when_the_customer_arrives(
    csv_file: MakeCsv,
) -> None:
    result = import_file("orders", csv_file(ORDER_HEADER, [order_row("B1")]))
    assert result.imported == 1
    order = Order.objects.get(order_id="B1")
    assert order.customer is None
    assert order.orgnr == "2120001454"
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    order.refresh_from_db()
    assert order.customer == Customer.objects.get(orgnr="2120001454")


def test_unknown_product_is_resolved_when_its_price_arrives(csv_file: MakeCsv) -> None:
    import_file("orders", csv_file(ORDER_HEADER, [order_row("B1", product_code="MOBIL")]))
    assert Order.objects.get(order_id="B1").product is None
    import_file(
        "prices",
        csv_file(PRICE_HEADER, [["MOBIL", "Mobilt SITHS eID", "250", "", "2020-01-01", ""]]),
    )
    assert Order.objects.get(order_id="B1").product.code == "MOBIL"  # type: ignore[union-attr]


def test_missing_required_column_fails_and_imports_nothing(csv_file: MakeCsv) -> None:
    path = csv_file(["order_id", "orgnr", "product_code"], [["B1", VARGARDA, "ETK"]])
    with pytest.raises(ImportFailed, match="Kolumnen ordered_at saknas") as failure:
        import_file("orders", path)
    assert Order.objects.count() == 0
    batch = ImportBatch.objects.get(pk=failure.value.batch_id)
    assert batch.status == ImportBatch.Status.FAILED
    assert "ordered_at" in batch.error


def test_unknown_columns_are_reported(csv_file: MakeCsv) -> None:
    path = csv_file(
        [*ORDER_HEADER, "photo_date", "Kommentar"], [[*order_row("B1"), "2020-03-20", "x"]]
    )
    result = import_file("orders", path)
    assert result.imported == 1
    assert result.unknown_columns == ["photo_date", "kommentar"]


def test_a_file_that_breaks_half_way_leaves_nothing_behind(
    tmp_path: Path, parsing_mode: str
) -> None:
    good = "".join(f"B{n};2020-03-01;2120001454;ETK\n" for n in range(20_000))
    path = tmp_path / "broken.csv"
    # A field past the CSV field limit (16 MB), after four chunks of orders were already written.
    path.write_bytes(
        b"order_id;ordered_at;orgnr;product_code\n"
        + good.encode()
        + b'B-late;"unterminated'
        + b"x" * (readers.CSV_FIELD_LIMIT + 1)
    )
    with pytest.raises(ImportFailed, match="kunde inte läsas som CSV") as failure:
        import_file("orders", path)
    assert Order.objects.count() == 0
    assert ImportBatch.objects.get(pk=failure.value.batch_id).status == "failed"
    assert ImportBatch.objects.filter(status="completed").count() == 0


def test_xlsx_orders(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ORDER_HEADER)
    sheet.append(["B1", dt.datetime(2020, 3, 31, 23, 30), 2120001454, "", "ETK", "Åsa", "", "", ""])
    sheet.append(["B2", "2020-03-31T22:30:00Z", "212000-1454", "", "ETK", "", "", "produced", ""])
    sheet.append(["B3", "not a date", 2120001454, "", "ETK", "", "", "", ""])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (2, 1)
    assert result.rows[0].line == 4
    dates = dict(Order.objects.values_list("order_id", "order_date"))
    assert dates == {"B1": dt.date(2020, 3, 31), "B2": dt.date(2020, 4, 1)}


def test_windows_1252_comma_file(csv_file: MakeCsv) -> None:
    path = csv_file(
        ORDER_HEADER,
        [order_row("B1", holder_name="Örjan Åberg")],
        delimiter=",",
        encoding="cp1252",
    )
    result = import_file("orders", path)
    assert result.imported == 1
    assert Order.objects.get().holder_name == "Örjan Åberg"


def test_quarantine_entries_from_every_chunk_are_kept(tmp_path: Path, parsing_mode: str) -> None:
    rows = "".join(
        f"B{n};{'2020-02-30' if n % 1000 == 7 else '2020-03-01'};2120001454;ETK\n"
        for n in range(23_000)
    )
    path = tmp_path / "many.csv"
    path.write_text("order_id;ordered_at;orgnr;product_code\n" + rows, encoding="utf-8")
    result = import_file("orders", path)
    assert result.quarantined == 23
    assert [entry.line for entry in result.rows] == [n + 2 for n in range(7, 23_000, 1000)]
    assert result.imported == 23_000 - 23
    assert QuarantinedRow.objects.filter(batch_id=result.batch_id).count() == 23


def test_status_values_match_the_model() -> None:
    assert tuple(OrderStatus.values) == ORDER_STATUSES


def test_bulk_insert_keeps_awkward_text_exactly() -> None:
    """PostgreSQL gets COPY text built by hand; it must escape what COPY would misread."""
    from kortfaktura.imports import bulk

    awkward = ["back\\slash", "tab\there", "new\nline", "cr\rhere", "\\N", "\\.", "åäö – ok"]
    bulk.insert_rows(
        Order._meta.db_table,
        ("order_id", "ordered_at", "order_date", "orgnr", "unit_code", "product_code",
         "holder_name", "holder_hsa_id", "status", "status_at", "customer_id"),
        [
            (f"X{n}", "2020-03-01", "2020-03-01", "2120001454", "", "ETK", text, "", "ordered",
             "", None)
            for n, text in enumerate(awkward)
        ],
    )  # fmt: skip
    stored = dict(Order.objects.values_list("order_id", "holder_name"))
    assert stored == {f"X{n}": text for n, text in enumerate(awkward)}
    assert Order.objects.filter(customer__isnull=True).count() == len(awkward)
