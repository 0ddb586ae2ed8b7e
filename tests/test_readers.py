"""The streaming readers: encodings, delimiters, XLSX and files that cannot be used."""

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from kortfaktura.imports.readers import UnreadableFile, normalize_header, open_table

KNOWN = frozenset({"order_id", "holder_name", "orgnr"})


def read_all(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    reader = open_table(path, KNOWN)
    try:
        return reader.header, list(reader.rows()), reader.description
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("encoding", "prefix", "described"),
    [
        ("utf-8", b"", "UTF-8"),
        ("utf-8", b"\xef\xbb\xbf", "UTF-8"),
        ("cp1252", b"", "Windows-1252"),
    ],
)
@pytest.mark.parametrize(("delimiter", "delimiter_name"), [(";", "semikolon"), (",", "komma")])
def test_csv_encodings_and_delimiters(
    tmp_path: Path,
    encoding: str,
    prefix: bytes,
    described: str,
    delimiter: str,
    delimiter_name: str,
) -> None:
    text = (
        f"Order ID{delimiter}holder_name{delimiter}ORGNR\r\n"
        f"B1{delimiter}Åsa Öberg{delimiter}2120001454\r\n"
    )
    path = tmp_path / "orders.csv"
    path.write_bytes(prefix + text.encode(encoding))
    header, rows, description = read_all(path)
    assert header == ["order_id", "holder_name", "orgnr"]
    assert rows == [(2, ["B1", "Åsa Öberg", "2120001454"])]
    assert described in description
    assert delimiter_name in description


def test_windows_1252_late_in_a_large_file_is_still_detected(tmp_path: Path) -> None:
    ascii_rows = "".join(f"B{n};Per Holm;2120001454\n" for n in range(60_000))
    path = tmp_path / "late.csv"
    path.write_bytes(
        ("order_id;holder_name;orgnr\n" + ascii_rows).encode() + "B-x;Jönsson;1\n".encode("cp1252")
    )
    _, rows, description = read_all(path)
    assert "Windows-1252" in description
    assert rows[-1][1][1] == "Jönsson"


def test_quoted_fields_keep_delimiters_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text(
        'order_id;holder_name;orgnr\nB1;"Holm; Per";1\nB2;"två\nrader";2\nB3;Eva;3\n',
        encoding="utf-8",
    )
    reader = open_table(path, KNOWN)
    rows = list(reader.rows())
    reader.close()
    # No field may hold a line break: the record that spans lines 3–4 is a problem of line 3,
    # and line 4 is read as a row of its own, so every physical line is one row.
    assert [line for line, _ in rows] == [2, 3, 4, 5]
    assert rows[0][1][1] == "Holm; Per"
    assert rows[1][1] == ["B2", "två"]
    assert rows[2][1] == ['rader"', "2"]
    assert list(reader.problems) == [3]
    assert "raderna 3–4" in reader.problems[3]


def test_header_names_are_normalised() -> None:
    assert normalize_header("\ufeff Order ID ") == "order_id"
    assert normalize_header("Unit-Code") == "unit_code"
    assert normalize_header("ORGNR") == "orgnr"


def test_xlsx_typed_cells_become_text(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["order_id", "ordered_at", "orgnr", "unit_price"])
    sheet.append(["B1", dt.datetime(2020, 3, 31, 23, 30), 2120001454, 350.5])
    sheet.append(["B2", dt.datetime(2020, 4, 1), 2120001454, 350.0])
    sheet.append([None, None, None, None])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    header, rows, description = read_all(path)
    assert header == ["order_id", "ordered_at", "orgnr", "unit_price"]
    assert rows[0] == (2, ["B1", "2020-03-31 23:30:00", "2120001454", "350.5"])
    assert rows[1] == (3, ["B2", "2020-04-01", "2120001454", "350"])
    assert "XLSX" in description


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "är tom"),
        ("garbage.csv", bytes(range(256)) * 4, "binära data"),
        ("fake.xlsx", b"order_id;orgnr\nB1;1\n", "ingen Excel-fil"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "går inte att öppna"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "gamla Excel-formatet"),
        ("utf16.csv", "order_id;orgnr\n".encode("utf-16"), "UTF-16"),
        ("blank-header.csv", b"\nB1;1\n", "saknar rubrikrad"),
    ],
)
def test_unusable_files_are_refused_in_swedish(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message):
        read_all(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="finns inte"):
        read_all(tmp_path / "nope.csv")


def test_invalid_bytes_in_both_encodings(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"order_id;orgnr\nB1;\x81\x8d\n")  # undefined in Windows-1252, invalid UTF-8
    with pytest.raises(UnreadableFile, match="varken UTF-8 eller Windows-1252"):
        read_all(path)
