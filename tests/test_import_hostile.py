"""Hostile and broken input files (issue 8 and the import rules of issue 7): every row ends
imported, updated, unchanged or quarantined, nothing is corrupted, no traceback."""

import datetime as dt
import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import OperationalError
from django.utils import timezone
from openpyxl import Workbook

from conftest import CUSTOMER_HEADER, GOTEBORG, ORDER_HEADER, VGR, customer_row, order_row
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.imports import engine, pipeline
from kortfaktura.imports.engine import ImportFailed, ImportResult
from kortfaktura.imports.models import ImportBatch, QuarantinedRow
from kortfaktura.imports.personal import contains_personal_number, mask
from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import Order

pytestmark = pytest.mark.django_db

MakeCsv = Callable[..., Path]


def accounted(result: ImportResult) -> int:
    return result.imported + result.updated + result.unchanged + result.quarantined


# --- 1. an unbalanced quote -------------------------------------------------------------------


@pytest.fixture(params=["in-process", "helper-process"])
def parsing_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "helper-process":
        monkeypatch.setattr(pipeline, "HELPER_PROCESS_MIN_BYTES", 0)
    return str(request.param)


def test_unbalanced_quote_does_not_swallow_the_following_rows(
    tmp_path: Path, parsing_mode: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code;holder_name\n"
        'A1;2024-01-05;2120001355;ETK;"Anna\n'
        "A2;2024-01-05;2120001355;ETK;Bo\n"
        "A3;2024-01-05;2120001355;ETK;Cecilia\n",
        encoding="utf-8",
    )
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (2, 1)
    assert accounted(result) + result.blank_lines == 3
    entry = result.rows[0]
    assert entry.line == 2
    assert "raderna 2–4" in entry.reason
    assert "radbrytning" in entry.reason
    assert entry.raw["order_id"] == "A1"
    names = dict(Order.objects.values_list("order_id", "holder_name"))
    assert names == {"A2": "Bo", "A3": "Cecilia"}


def test_quote_closed_on_a_later_line_still_reads_every_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code;holder_name\n"
        'A1;2024-01-05;2120001355;ETK;"Anna\n'
        'Svensson";\n'
        "\n"
        "A2;2024-01-05;2120001355;ETK;Bo\n",
        encoding="utf-8",
    )
    result = import_file("orders", path)
    # line 2 held back (it spans lines 2–3), line 3 is a row of its own without required
    # fields, line 4 blank, line 5 imported
    assert result.imported == 1
    assert accounted(result) + result.blank_lines == 4
    assert {entry.line for entry in result.rows} == {2, 3}


def test_a_line_break_in_an_xlsx_cell_is_quarantined(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ORDER_HEADER)
    sheet.append(order_row("X1", holder_name="Anna\nAndersson"))
    sheet.append(order_row("X2"))
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (1, 1)
    assert "holder_name innehåller en radbrytning" in result.rows[0].reason


# --- 2. a stray Windows-1252 byte -------------------------------------------------------------


def test_stray_windows_1252_byte_in_a_utf8_file_is_refused_naming_the_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "customers.csv"
    good = ";".join(customer_row(GOTEBORG, "Göteborgs Stad", "GBG")).encode("utf-8")
    bad = ";".join(customer_row(account_code="1442", name="Vårgårda kommun")).encode("cp1252")
    path.write_bytes(";".join(CUSTOMER_HEADER).encode() + b"\n" + good + b"\n" + bad + b"\n")
    with pytest.raises(ImportFailed, match="rad 3") as failure:
        import_file("customers", path)
    assert "blandad teckenkodning" in str(failure.value)
    assert "rad 2 är UTF-8" in str(failure.value)
    assert not Customer.objects.exists()
    batch = ImportBatch.objects.get(pk=failure.value.batch_id)
    assert batch.status == ImportBatch.Status.FAILED


def test_utf8_bom_file_with_a_stray_byte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(
        b"\xef\xbb\xbforder_id;ordered_at;orgnr;product_code;holder_name\r\n"
        b"A1;2024-01-05;2120001355;ETK;J\xf6nsson\r\n"
    )
    with pytest.raises(ImportFailed, match="rad 2"):
        import_file("orders", path)


def test_a_pure_windows_1252_file_is_still_read(csv_file: MakeCsv) -> None:
    path = csv_file(CUSTOMER_HEADER, [customer_row(GOTEBORG, "Göteborgs Stad", "GBG")],
                    encoding="cp1252")  # fmt: skip
    result = import_file("customers", path)
    assert result.imported == 1
    assert Customer.objects.get().name == "Göteborgs Stad"


# --- 3. absent columns --------------------------------------------------------------------------


def test_an_absent_column_leaves_the_field_as_it_is(csv_file: MakeCsv) -> None:
    first = customer_row(GOTEBORG, "Göteborgs Stad", "GBG", unit_codes="U1")
    import_file("customers", csv_file(CUSTOMER_HEADER, [first]))
    misspelled = ["buyer_ref" if name == "buyer_reference" else name for name in CUSTOMER_HEADER]
    misspelled = [name for name in misspelled if name not in ("unit_codes", "delivery", "email")]
    row = customer_row(GOTEBORG, "Göteborgs Stad", "GBG", buyer_reference="", peppol_id="")
    kept = [value for name, value in zip(CUSTOMER_HEADER, row, strict=True)
            if name not in ("unit_codes", "delivery", "email")]  # fmt: skip
    kept[misspelled.index("peppol_id")] = "0007:2120001454"  # as before
    result = import_file("customers", csv_file(misspelled, [kept]))
    assert (result.updated, result.unchanged, result.quarantined) == (0, 1, 0)
    account = BillingAccount.objects.get(code="GBG")
    assert account.buyer_reference == "GITS-1442"
    assert list(account.unit_codes.values_list("code", flat=True)) == ["U1"]
    assert result.unknown_columns == ["buyer_ref"]
    assert result.suggestions == {"buyer_ref": "buyer_reference"}


def test_unknown_column_suggestion_is_printed(
    csv_file: MakeCsv, cli: Callable[..., tuple[int, str, str]]
) -> None:
    header = ["buyer_ref" if name == "buyer_reference" else name for name in CUSTOMER_HEADER]
    code, out, _ = cli("import", "customers", str(csv_file(header, [customer_row()])))
    assert code == 0
    assert "buyer_ref (menade du buyer_reference?)" in " ".join(out.split())


def test_a_present_empty_cell_clears_and_an_incomplete_account_is_named(
    csv_file: MakeCsv, cli: Callable[..., tuple[int, str, str]]
) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    path = csv_file(CUSTOMER_HEADER, [customer_row(buyer_reference="")])
    result = import_file("customers", path)
    assert result.updated == 1
    assert BillingAccount.objects.get(code="1442").buyer_reference == ""
    assert len(result.warnings) == 1
    assert "1442 blev ofullständig" in result.warnings[0]
    assert "beställarreferens saknas" in result.warnings[0]
    path = csv_file(CUSTOMER_HEADER, [customer_row()])
    import_file("customers", path)
    cleared = csv_file(CUSTOMER_HEADER, [customer_row(buyer_reference="")])
    _, out, _ = cli("import", "customers", str(cleared))
    assert "blev ofullständig" in " ".join(out.split())


# --- 4. moving the default account --------------------------------------------------------------


def test_moving_the_default_account_never_crashes(csv_file: MakeCsv) -> None:
    setup = [
        customer_row(VGR, "Västra Götalandsregionen", "VGR-A"),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-C", unit_codes="C1"),
    ]
    import_file("customers", csv_file(CUSTOMER_HEADER, setup))
    moving = [
        # A gives up the default, but claims a unit that C (not in the file) owns: held back ...
        customer_row(VGR, "Västra Götalandsregionen", "VGR-A", unit_codes="C1"),
        # ... so B cannot become the default: held back too, instead of a UNIQUE error.
        customer_row(VGR, "Västra Götalandsregionen", "VGR-B"),
    ]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, moving))
    assert (result.imported, result.quarantined) == (0, 2)
    reasons = {entry.line: entry.reason for entry in result.rows}
    assert "C1 är redan kopplad till VGR-C" in reasons[2]
    assert "standardmottagaren VGR-A" in reasons[3]
    assert BillingAccount.objects.get(is_default=True).code == "VGR-A"
    assert dict(UnitCode.objects.values_list("code", "account__code")) == {"C1": "VGR-C"}


def test_moving_the_default_account_in_one_file(csv_file: MakeCsv) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row(account_code="A")]))
    moving = [customer_row(account_code="B"), customer_row(account_code="A", unit_codes="U")]
    result = import_file("customers", csv_file(CUSTOMER_HEADER, moving))
    assert (result.imported, result.updated, result.quarantined) == (1, 1, 0)
    assert BillingAccount.objects.get(is_default=True).code == "B"


# --- 5. tracebacks instead of messages ----------------------------------------------------------


@pytest.mark.parametrize("moment", ["9999-12-31T23:30:00Z", "0001-01-01T00:30+01:00"])
def test_order_time_out_of_range_is_quarantined(
    csv_file: MakeCsv, parsing_mode: str, moment: str
) -> None:
    result = import_file("orders", csv_file(ORDER_HEADER, [order_row("T1", ordered_at=moment)]))
    assert result.quarantined == 1
    assert "utanför de datum som kan anges" in result.rows[0].reason


def _rewrite_sheet(path: Path, old: bytes, new: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert old in data
                data = data.replace(old, new)
            target.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def _orders_workbook(path: Path, *rows: list[object]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ORDER_HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_shared_string_out_of_range_is_a_message(tmp_path: Path) -> None:
    path = _orders_workbook(tmp_path / "o.xlsx", order_row("S1", holder_name="Anna"))
    # openpyxl writes text as inline or shared strings depending on version: point a cell at a
    # shared string that does not exist.
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    start = sheet.index(b'<c r="F2"')
    end = sheet.index(b"</c>", start) + 4
    _rewrite_sheet(path, sheet[start:end], b'<c r="F2" t="s"><v>9999</v></c>')
    with pytest.raises(ImportFailed, match="trasig på rad 2"):
        import_file("orders", path)
    assert not Order.objects.exists()


def test_xlsx_nan_number_is_a_message_or_a_quarantined_row(tmp_path: Path) -> None:
    path = _orders_workbook(tmp_path / "o.xlsx", order_row("N1", holder_name="Anna"))
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    start = sheet.index(b'<c r="C2"')
    end = sheet.index(b"</c>", start) + 4
    _rewrite_sheet(path, sheet[start:end], b'<c r="C2" t="n"><v>NaN</v></c>')
    try:
        result = import_file("orders", path)
    except ImportFailed as error:
        assert "rad 2" in str(error)
    else:
        assert result.quarantined == 1
    assert not Order.objects.exists()


def test_xlsx_formula_without_a_cached_value_is_quarantined(tmp_path: Path) -> None:
    # openpyxl saves formulas without a cached value, as a script-made workbook would have.
    path = _orders_workbook(
        tmp_path / "o.xlsx",
        order_row("F1", holder_name='=CONCATENATE("An","na")'),
        order_row("F2", holder_name="Bo"),
    )
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (1, 1)
    assert "F2 är en formel" in result.rows[0].reason
    assert "utan sparat värde" in result.rows[0].reason
    assert list(Order.objects.values_list("order_id", flat=True)) == ["F2"]


def test_database_locked_is_a_swedish_message(
    csv_file: MakeCsv, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]]
) -> None:
    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(engine.bulk, "refresh_statistics", locked)
    monkeypatch.setattr(engine.bulk, "ANALYZE_AFTER_ROWS", 0)
    path = csv_file(ORDER_HEADER, [order_row("L1")])
    with pytest.raises(
        ImportFailed, match="atabasen är upptagen av en annan process – försök igen"
    ):
        import_file("orders", path)
    assert not Order.objects.exists()
    code, _, err = cli("import", "orders", str(path))
    assert code == 1
    assert "försök igen" in err
    failed = ImportBatch.objects.filter(status=ImportBatch.Status.FAILED)
    assert failed.count() == 2


# --- 6. zip bomb --------------------------------------------------------------------------------


def test_xlsx_zip_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = _orders_workbook(tmp_path / "bomb.xlsx", order_row("Z1"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr(
            "xl/sharedStrings2.xml", b"<" * 30_000_000, compress_type=zipfile.ZIP_DEFLATED
        )
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 200_000
    started = time.perf_counter()
    with pytest.raises(ImportFailed, match="zip-bomb"):
        import_file("orders", path)
    assert time.perf_counter() - started < 1.0


# --- 7. personnummer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Anna 19800101-1234", True),
        ("19800101 1234", True),
        ("800101-1234", True),
        ("800101+1234", True),
        ("8112189876", True),  # bare 10 digits, valid check digit
        ("198112189876", True),
        ("19811278-9870", True),  # samordningsnummer: day 18 + 60
        ("8001011234", False),  # bare digits, wrong check digit: an order id, not a person
        ("212000-1355", False),  # organisationsnummer: month field 20
        ("2120001355", False),
        ("232100-0131", False),
        ("7350003379782", False),  # GLN
        ("SE2321000131-P000000012345", False),  # HSA-id
        ("B-2020-000123", False),
        ("2020-03-31T22:30:00Z", False),
    ],
)
def test_personal_numbers_are_recognised(text: str, found: bool) -> None:
    assert contains_personal_number(text) is found


def test_masking() -> None:
    assert mask("Anna 19800101-1234 och 811218-9876") == "Anna 19800101-**** och 811218-****"
    assert mask("8112189876") == "811218-****"
    assert mask("SE2321000131-P000000012345") == "SE2321000131-P000000012345"


def _stored_text() -> str:
    parts = [str(row.raw) + row.reason for row in QuarantinedRow.objects.all()]
    parts += [batch.error + str(batch.unknown_columns) for batch in ImportBatch.objects.all()]
    parts += [f"{o.holder_name} {o.holder_hsa_id}" for o in Order.objects.all()]
    return " ".join(parts)


def test_personal_numbers_in_orders_are_quarantined_and_masked(
    csv_file: MakeCsv, parsing_mode: str
) -> None:
    rows = [
        order_row("P1", holder_name="Anna 19800101-1234"),
        order_row("P2", holder_hsa_id="19800101 1234"),
        order_row("P3", unit_code="811218-9876"),
        order_row("P4", holder_hsa_id="SE2321000131-P000000012345"),
        order_row("7350003379782", orgnr=GOTEBORG),
    ]
    result = import_file("orders", csv_file(ORDER_HEADER, rows))
    assert (result.imported, result.quarantined) == (2, 3)
    reasons = {entry.line: entry.reason for entry in result.rows}
    assert "holder_name innehåller ett personnummer" in reasons[2]
    assert "holder_hsa_id" in reasons[3]
    assert "unit_code" in reasons[4]
    stored = _stored_text()
    for number in ("1234", "9876"):
        assert f"-{number}" not in stored and f" {number}" not in stored
    assert "19800101-****" in stored
    assert not contains_personal_number(stored)


@pytest.mark.parametrize(
    ("kind", "header", "row"),
    [
        ("customers", CUSTOMER_HEADER, customer_row(name="Eva 19800101-1234")),
        ("prices", ["product_code", "product_name", "unit_price", "valid_from"],
         ["ETK", "Kort 811218-9876", "350", "2020-01-01"]),
        ("billed", ["order_id", "invoice_number"], ["B1", "811218-9876"]),
    ],
)  # fmt: skip
def test_personal_numbers_in_every_kind(
    csv_file: MakeCsv, kind: str, header: list[str], row: list[str]
) -> None:
    result = import_file(kind, csv_file(header, [row]))
    assert (result.imported, result.quarantined) == (0, 1)
    assert "personnummer" in result.rows[0].reason
    assert not contains_personal_number(_stored_text())


def test_personal_number_in_a_header_is_masked(csv_file: MakeCsv) -> None:
    result = import_file("orders", csv_file([*ORDER_HEADER, "19800101-1234"], []))
    assert result.unknown_columns == ["19800101_****"]


# --- 11. messages -------------------------------------------------------------------------------


def test_comma_delimiter_and_decimal_comma_collide(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        "product_code,product_name,unit_price,vat_rate,valid_from,valid_to\n"
        "ETK,eTjänstekort,350,00,25,2024-01-01,\n",
        encoding="utf-8",
    )
    result = import_file("prices", path)
    assert result.quarantined == 1
    reason = result.rows[0].reason
    assert "komma som avgränsare och decimalkomma krockar" in reason
    assert "valid_from" not in reason


def test_failed_import_finishes_after_it_started(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFailed) as failure:
        import_file("orders", path)
    batch = ImportBatch.objects.get(pk=failure.value.batch_id)
    assert batch.finished_at is not None
    assert batch.finished_at >= batch.started_at


def test_one_quarantined_row_is_singular(
    csv_file: MakeCsv, cli: Callable[..., tuple[int, str, str]]
) -> None:
    path = csv_file(ORDER_HEADER, [order_row("", ordered_at="2020-01-01")])
    _, out, _ = cli("import", "orders", str(path))
    text = " ".join(out.split())
    assert "1 rad hölls tillbaka" in text
    assert "rätta den i källfilen" in text


# --- issue 7: orders from the future ------------------------------------------------------------


def test_an_order_dated_after_the_day_of_import_is_quarantined(
    csv_file: MakeCsv, parsing_mode: str
) -> None:
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    rows = [
        order_row("U1", ordered_at=today.isoformat()),
        order_row("U2", ordered_at=tomorrow.isoformat()),
        order_row("U3", ordered_at="2031-05-01"),
    ]
    result = import_file("orders", csv_file(ORDER_HEADER, rows))
    assert (result.imported, result.quarantined) == (1, 2)
    assert all("kan inte ha lagts ännu" in entry.reason for entry in result.rows)


def test_a_file_that_cannot_be_read_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.csv"
    path.write_text("order_id;ordered_at;orgnr;product_code\n", encoding="utf-8")
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ImportFailed, match="kan inte läsas"):
        import_file("orders", path)


def test_absent_price_columns_keep_the_period_and_rate(csv_file: MakeCsv) -> None:
    from kortfaktura.catalog.models import Price

    header = ["product_code", "product_name", "unit_price", "vat_rate", "valid_from", "valid_to"]
    import_file("prices", csv_file(header, [["ETK", "eTjänstekort", "350", "12", "2020-01-01",
                                             "2020-12-31"]]))  # fmt: skip
    short = ["product_code", "product_name", "unit_price", "valid_from"]
    result = import_file("prices", csv_file(short, [["ETK", "eTjänstekort", "360", "2020-01-01"]]))
    assert (result.updated, result.quarantined) == (1, 0)
    price = Price.objects.get()
    assert (price.unit_price, price.vat_rate, price.valid_to) == (
        360,
        12,
        dt.date(2020, 12, 31),
    )


def test_an_overlong_field_quarantines_its_row_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code;holder_name\n"
        f"A1;2024-01-05;2120001355;ETK;{'x' * 500_000}\n"
        "A2;2024-01-05;2120001355;ETK;Bo\n",
        encoding="utf-8",
    )
    result = import_file("orders", path)
    assert (result.imported, result.quarantined) == (1, 1)
    assert "holder_name är för långt" in result.rows[0].reason


def test_a_new_incomplete_account_is_named(csv_file: MakeCsv) -> None:
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row(buyer_reference="")]))
    assert result.imported == 1
    assert result.warnings == [
        "rad 2: fakturamottagaren 1442 är ny och ofullständig – beställarreferens saknas "
        "(offentlig köpare returnerar fakturan). Dess fakturor hålls tillbaka tills uppgiften finns"
    ]


def test_rich_markup_in_a_file_is_printed_as_text(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    path = tmp_path / "[bold]orders.csv"
    path.write_text(
        "order_id;ordered_at;orgnr;product_code;status\nA9;2024-01-05;2120001355;ETK;[/]\n",
        encoding="utf-8",
    )
    code, out, _ = cli("import", "orders", str(path))
    assert code == 0
    assert "status '[/]' är okänd" in " ".join(out.split())
    assert "[bold]orders.csv" in out
    path.write_bytes(b"")
    code, _, err = cli("import", "orders", str(path))
    assert code == 1
    assert "[bold]orders.csv är tom" in " ".join(err.split())


def test_xlsx_with_only_a_chart_sheet_is_a_message(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.create_chartsheet("Diagram", 0)
    workbook.remove(workbook.worksheets[0])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    with pytest.raises(ImportFailed, match=r"inget kalkylblad|går inte att"):
        import_file("orders", path)


def test_personal_numbers_in_other_digits_or_with_a_wrong_check_digit_never_get_stored(
    csv_file: MakeCsv,
) -> None:
    """Found by a tester: full-width digits passed, and an HSA-id that is a personnummer with a
    mistyped check digit was kept verbatim in the quarantined row."""
    rows = [
        order_row("W1", holder_name="H ８００１０１－１２３１"),
        order_row("W2", holder_hsa_id="198001011238"),
    ]
    result = import_file("orders", csv_file(ORDER_HEADER, rows))
    assert (result.imported, result.quarantined) == (0, 2)
    stored = _stored_text()
    assert "198001011238" not in stored and "１２３１" not in stored and "-1231" not in stored
    assert "19800101****" in stored or "19800101-****" in stored


@pytest.mark.parametrize(
    ("holder", "named"),
    [
        ("Bo \u202eLLUN\u202c Ek", "U+202E"),  # shows as "Bo NULL Ek"
        ("Cia Z\u200bW", "U+200B"),
        ("Di \u2067Ab\u2069", "U+2067"),
        ("Fia \ufffd", "U+FFFD"),
    ],
)
def test_invisible_format_characters_are_quarantined_naming_them(
    csv_file: MakeCsv, holder: str, named: str
) -> None:
    """Found by a tester: bidi overrides and zero-width characters were issued, and the PDF
    showed another name than the one stored."""
    result = import_file("orders", csv_file(ORDER_HEADER, [order_row("F1", holder_name=holder)]))
    assert (result.imported, result.quarantined) == (0, 1)
    assert named in result.rows[0].reason and "holder_name" in result.rows[0].reason


def test_joiners_that_names_and_emoji_need_are_kept(csv_file: MakeCsv) -> None:
    holder = "Mehr\u200cnaz Ek \U0001f469\u200d\U0001f4bb"  # Persian ZWNJ, an emoji sequence
    result = import_file("orders", csv_file(ORDER_HEADER, [order_row("J1", holder_name=holder)]))
    assert (result.imported, result.quarantined) == (1, 0), result.rows


def test_control_characters_in_any_field_are_quarantined(csv_file: MakeCsv) -> None:
    row = customer_row(name="Alings\x1b[31mås kommun\x1b[0m")
    result = import_file("customers", csv_file(CUSTOMER_HEADER, [row]))
    assert (result.imported, result.quarantined) == (0, 1)
    assert "kontrolltecken" in result.rows[0].reason and "name" in result.rows[0].reason
    assert not Customer.objects.exists()
