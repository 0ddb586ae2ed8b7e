"""Fuzzing the imports with whole generated files (issue 8).

Hypothesis builds CSV files (UTF-8 with and without BOM, Windows-1252 and lines of both, every
delimiter, balanced and unbalanced quotes, every line ending, blank lines, huge fields, garbage
bytes, rows of the wrong width) and XLSX workbooks (typed cells, empty rows, formulas, dates) for
every import kind, and imports each in-process, in a transaction that is rolled back.

Invariants for every example: no exception but ``ImportFailed``; every data line is accounted
for (imported + updated + unchanged + quarantined + blank); a refused file changes nothing;
no personnummer reaches the database; importing the same file again imports nothing new.

``KORTFAKTURA_FUZZ_EXAMPLES`` sets the examples per kind (200 by default; CI uses more).
"""

import datetime as dt
import functools
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.imports.engine import ImportFailed
from kortfaktura.imports.models import ImportBatch, QuarantinedRow
from kortfaktura.imports.personal import contains_personal_number
from kortfaktura.imports.services import IMPORTERS, import_file
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("KORTFAKTURA_FUZZ_EXAMPLES", "200"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

PERSONAL_NUMBERS = ["19800101-1234", "800101 1234", "8112189876", "19811278-9870", "811218+9876"]
ORGNRS = ["212000-1355", "2120001454", "232100-0131", "212000-1455", "123", ""]
POOLS: dict[str, list[str]] = {
    # customers
    "orgnr": ORGNRS,
    "name": ["Göteborgs Stad", "Vårgårda kommun", "Västra Götalandsregionen", ""],
    "account_code": ["A", "B", "C", "VGR-RS", ""],
    "account_name": ["Förvaltning", ""],
    "unit_codes": ["", "U1", "U1,U2", "U2", " , "],
    "buyer_reference": ["GITS-1", ""],
    "peppol_id": ["0007:2120001454", "0088:7350003379782", "0007:123", "bad", ""],
    "email": ["", "faktura@ale.se", "x@", "a@b"],
    "street": ["Box 1", ""],
    "postal_code": ["405 44", "40544", "4054", ""],
    "city": ["Göteborg", ""],
    "delivery": ["", "peppol", "email", "print", "fax", "PEPPOL"],
    # prices
    "product_code": ["ETK", "RESERV", "PUK", "X", ""],
    "product_name": ["eTjänstekort", "Reservkort", ""],
    "unit_price": ["350", "350,00", "350.5", "-1", "1000000", "1000001", "abc", "1e3", "NaN", ""],
    "vat_rate": ["25", "12", "6", "0", "25,0", "30", "0,25", "25 %", "-0", ""],
    "valid_from": ["2020-01-01", "2021-01-01", "2020-13-01", "20200101", ""],
    "valid_to": ["", "2020-12-31", "2019-12-31", "x"],
    # orders
    "order_id": ["O1", "O2", "O3", "O4", ""],
    "ordered_at": [
        "2020-03-15",
        "2020-03-31T22:30:00Z",
        "2020-03-31 23:30",
        "9999-12-31T23:30:00Z",
        "0001-01-01T00:30+01:00",
        "2031-05-01",
        "2020-02-30",
        "x",
        "",
    ],
    "unit_code": ["", "U1", "U2"],
    "holder_name": ["Anna Andersson", "Åsa Öberg", ""],
    "holder_hsa_id": ["SE2321000131-P000000012345", ""],
    "status": ["", "ordered", "cancelled", "Collected", "lost"],
    "status_at": ["", "2020-04-01", "nope"],
    # billed
    "invoice_number": ["100001", "F-1", ""],
    "invoice_date": ["", "2020-01-31", "31/1"],
}
# One draw per cell: Hypothesis spends most of an example drawing, so the awkward values are
# prepared here rather than built character by character.
NASTY = [
    '"', '""', '"a"b', 'a"b', "a;b", "a,b", "a\tb", "a\nb", "a\r\nb", "a\rb", "\n", " ",
    "\x00", "\x81", "\u2028", "\ufeff", "😀", "王芳", "Åsa Öberg", "=1+1", "＝SUM(A1)", "-", "+",
    "350,00", "1 234,50", "0,3", "NaN", "Infinity", "1e309", "00000000000000000001",
    "SE2321000131-P000000012345", "7350003379782", "2120001355", "B-2020-000123",
    "Anna 19800101-1234", "Bo 811218 9876", "x19800101-1234y", "19800101\t1234",
    "x" * 300, "å" * 5_000, '"' * 70, ";" * 200, "9" * 70_000,
]  # fmt: skip
TEXT = st.text(alphabet=st.sampled_from(list("aå€\"';,\t\r\n 0123456789-+")), max_size=8)


@functools.cache
def cell_text(column: str) -> st.SearchStrategy[str]:
    values = [*POOLS.get(column, [""]), *POOLS.get(column, [""]), *NASTY, *PERSONAL_NUMBERS]
    return (
        st.one_of(st.sampled_from(values), TEXT)
        if column == "holder_name"
        else (st.sampled_from(values))
    )


@st.composite
def headers(draw: st.DrawFn, kind: str) -> list[str]:
    importer = IMPORTERS[kind]
    required = list(importer.required_columns)
    if draw(st.integers(0, 19)) == 0:  # sometimes a required column is missing
        required.remove(draw(st.sampled_from(required)))
    optional = draw(st.lists(st.sampled_from(importer.optional_columns), unique=True))
    extra = draw(st.lists(st.sampled_from(["buyer_ref", "kommentar", "Order ID"]), unique=True,
                          max_size=1))  # fmt: skip
    return draw(st.permutations([*required, *optional, *extra]))


def physical_lines(data: bytes) -> int:
    """Lines after the header, as a text editor counts them (\\n, \\r\\n or a lone \\r)."""
    parts = re.split(rb"\r\n|\r|\n", data)
    lines = parts[:-1] if parts[-1] == b"" else parts
    return max(len(lines) - 1, 0)


@st.composite
def csv_files(draw: st.DrawFn, kind: str) -> tuple[bytes, int]:
    header = draw(headers(kind))
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "mixed"]))
    lines: list[str] = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 7)) == 0:
            lines.append("" if draw(st.booleans()) else " " + delimiter * len(header))
            continue
        width = len(header) + draw(st.sampled_from([0, 0, 0, 0, -1, 1, 2]))
        cells = [
            draw(cell_text(header[index] if index < len(header) else ""))
            for index in range(max(width, 0))
        ]
        quoting = draw(st.sampled_from(["plain", "plain", "quoted", "unbalanced"]))
        if quoting == "quoted":
            cells = ['"' + value.replace('"', '""') + '"' for value in cells]
        elif quoting == "unbalanced" and cells:
            index = draw(st.integers(0, len(cells) - 1))
            cells[index] = '"' + cells[index]
        lines.append(delimiter.join(cells))
    chunks = []
    for number, line in enumerate(lines):
        ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if number == len(lines) - 1 and draw(st.booleans()):
            ending = ""
        line_encoding = encoding
        if encoding == "mixed":
            line_encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
        elif encoding == "utf-8-sig":
            line_encoding = "utf-8"
        chunk = (line + ending).encode(line_encoding, errors="replace")
        if number and draw(st.integers(0, 15)) == 0:  # garbage bytes
            chunk = draw(st.binary(max_size=6)) + chunk
        chunks.append(chunk)
    data = b"".join(chunks)
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    return data, physical_lines(data)


def _xlsx_legal(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)


@functools.cache
def xlsx_cell(column: str) -> st.SearchStrategy[Any]:
    texts = [
        _xlsx_legal(text)[:32_000]
        for text in (*POOLS.get(column, [""]), *POOLS.get(column, [""]), *NASTY, *PERSONAL_NUMBERS)
    ]
    return st.sampled_from(
        [
            None, None, *texts, 0, -1, 350, 350.5, 1e300, -0.0, 8112189876, 198112189876,
            2120001355, 7350003379782, True, False, dt.date(2020, 3, 15), dt.date(2031, 1, 1),
            dt.datetime(2020, 3, 31, 23, 30), dt.datetime(1900, 1, 1), dt.time(10, 30),
            "=1+1", '=A2&"x"', "=NOW()", '=CONCATENATE("19800101","-1234")',
        ]
    )  # fmt: skip


@st.composite
def xlsx_files(draw: st.DrawFn, kind: str) -> tuple[bytes, int]:
    """A workbook and its number of data rows: openpyxl reads every row up to the last one that
    has a cell (rows appended empty in between are read as blank)."""
    header = draw(headers(kind))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    data_rows = 0
    for number in range(1, draw(st.integers(0, 6)) + 1):
        if draw(st.integers(0, 6)) == 0:
            sheet.append([])
            continue
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        sheet.append([draw(xlsx_cell(header[i] if i < len(header) else "")) for i in range(width)])
        if width > 0:
            data_rows = number
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), data_rows


COUNTED = (
    Customer, BillingAccount, UnitCode, Product, Price, Order, OrderChange, PreviouslyInvoiced,
    QuarantinedRow,
)  # fmt: skip
# Every text column an import writes: (model, columns). Read with raw SQL, one query for all,
# because the ORM's overhead per query would dominate an example.
STORED_TEXT = (
    (QuarantinedRow, ("raw", "reason")),
    (ImportBatch, ("error", "unknown_columns")),
    (Order, ("order_id", "orgnr", "unit_code", "product_code", "holder_name", "holder_hsa_id",
             "status_at", "ordered_at")),
    (Customer, ("name",)),
    (BillingAccount, ("code", "name", "buyer_reference", "peppol_id", "email", "street", "city")),
    (UnitCode, ("code",)),
    (Product, ("code", "name")),
    (PreviouslyInvoiced, ("order_id", "invoice_number")),
)  # fmt: skip


def table_counts() -> tuple[int, ...]:
    sql = "SELECT " + ", ".join(
        f"(SELECT COUNT(*) FROM {model._meta.db_table})" for model in COUNTED
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def stored_texts() -> list[str]:
    parts = []
    for model, columns in STORED_TEXT:
        for column in columns:
            name = model._meta.get_field(column).column
            parts.append(f"SELECT CAST({name} AS TEXT) FROM {model._meta.db_table}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The orders and billed imports turn sequential scans off for their transaction
            # (bulk.prefer_index_lookups); this query on tables without indexes would then look
            # so costly that PostgreSQL compiles it (JIT), half a second per example.
            cursor.execute("SET LOCAL enable_seqscan = on")
        cursor.execute(" UNION ALL ".join(parts))
        return [text for (text,) in cursor.fetchall() if text]


def check_import(kind: str, path: Path, data_lines: int) -> None:
    """Each example starts on an empty database (its transaction is rolled back)."""
    try:
        result = import_file(kind, path)
    except ImportFailed as failure:
        assert str(failure)  # a message
        assert not any(table_counts()), "a refused file changed the database"
    else:
        accounted = result.imported + result.updated + result.unchanged + result.quarantined
        assert accounted + result.blank_lines == data_lines, (result.as_json(), data_lines)
        if result.imported + result.updated:
            # The same file again changes nothing.
            again = import_file(kind, path)
            assert (again.imported, again.updated) == (0, 0), again.as_json()
    leaked = [text for text in stored_texts() if contains_personal_number(text)]
    assert not leaked, leaked


@pytest.fixture
def empty_database() -> None:
    assert not any(table_counts()), "the fuzz tests need an empty database to start from"


def fuzz(kind: str) -> Callable[..., None]:
    @FUZZ_SETTINGS
    @given(file=st.one_of(csv_files(kind), csv_files(kind), csv_files(kind), xlsx_files(kind)))
    def run(tmp_path: Path, empty_database: None, file: tuple[bytes, int]) -> None:
        data, data_lines = file
        suffix = ".xlsx" if data.startswith(b"PK") else ".csv"
        path = tmp_path / f"{kind}{suffix}"
        path.write_bytes(data)
        with transaction.atomic():
            check_import(kind, path, data_lines)
            transaction.set_rollback(True)

    return run


test_fuzz_customers = fuzz("customers")
test_fuzz_prices = fuzz("prices")
test_fuzz_orders = fuzz("orders")
test_fuzz_billed = fuzz("billed")
