"""Streaming readers for the input files (INTERFACES.md: CSV or XLSX with a header row).

A reader never holds the whole file in memory. It yields ``(line, values)`` where ``line`` is the
line (CSV) or row (XLSX) number a person sees when opening the file, and ``values`` are strings.
Problems that make the whole file unusable raise ``UnreadableFile`` with a Swedish message.
"""

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

SCAN_CHUNK = 1 << 20
DELIMITERS = (";", ",", "\t")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


class UnreadableFile(Exception):
    """The file as a whole cannot be used; the message says why and what to do, in Swedish."""


class TableReader(Protocol):
    header: list[str]
    description: str

    def rows(self) -> Iterator[tuple[int, list[str]]]: ...

    def progress(self) -> tuple[int, int]:
        """(done, total) in the reader's own unit, for a progress bar."""
        ...

    def close(self) -> None: ...


def open_table(path: Path, known_columns: frozenset[str] = frozenset()) -> TableReader:
    """Open ``path`` as CSV or XLSX, detected from its content, not only its name.

    ``known_columns`` helps choose the CSV delimiter: the one that makes the header show most of
    the expected column names wins.
    """
    if not path.exists():
        raise UnreadableFile(f"Filen {path} finns inte. Kontrollera sökvägen.")
    if not path.is_file():
        raise UnreadableFile(f"{path} är ingen fil.")
    with path.open("rb") as probe:
        head = probe.read(8)
    if not head:
        raise UnreadableFile(
            f"Filen {path.name} är tom. Exportera filen på nytt med en rubrikrad och minst en rad."
        )
    suffix = path.suffix.lower()
    if head.startswith(XLSX_MAGIC):
        return XlsxReader(path)
    if head.startswith(OLE_MAGIC):
        raise UnreadableFile(
            f"Filen {path.name} är i det gamla Excel-formatet (.xls), som inte stöds. "
            "Öppna den i Excel och spara som .xlsx eller CSV."
        )
    if suffix in (".xlsx", ".xlsm"):
        raise UnreadableFile(
            f"Filen {path.name} har ändelsen {suffix} men är ingen Excel-fil (XLSX). "
            "Spara den på nytt som Excel-arbetsbok (.xlsx) eller som CSV."
        )
    return CsvReader(path, known_columns)


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, else Windows-1252.

    The whole file is scanned in chunks, because a file that is UTF-8 in its first kilobytes
    may still carry a Windows-1252 'å' further down. Binary data is refused.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    with path.open("rb") as handle:
        first = True
        while chunk := handle.read(SCAN_CHUNK):
            if first and chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise UnreadableFile(
                    f"Filen {path.name} är kodad som UTF-16, som inte stöds. "
                    "Spara den som CSV UTF-8 (i Excel: 'CSV UTF-8 (kommaavgränsad)')."
                )
            first = False
            if b"\x00" in chunk:
                raise UnreadableFile(
                    f"Filen {path.name} innehåller binära data och är ingen textfil (CSV). "
                    "Exportera filen som CSV (UTF-8 eller Windows-1252) eller XLSX."
                )
            if is_utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
        if is_utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                is_utf8 = False
    if is_utf8:
        return "utf-8-sig"
    _check_windows_1252(path)
    return "cp1252"


def _check_windows_1252(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("cp1252")()
    with path.open("rb") as handle:
        while chunk := handle.read(SCAN_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                raise UnreadableFile(
                    f"Filen {path.name} är varken UTF-8 eller Windows-1252 (byte "
                    f"0x{chunk[error.start]:02x} kan inte tolkas). Spara filen som CSV UTF-8."
                ) from error


def normalize_header(name: str) -> str:
    """``' Order ID '`` → ``order_id``: case, surrounding space and inner spaces/hyphens."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    return "_".join(cleaned.replace("-", " ").split())


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, so the progress bar can follow a text stream."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


class CsvReader:
    def __init__(self, path: Path, known_columns: frozenset[str]) -> None:
        self.path = path
        self.encoding = detect_encoding(path)
        self._total = path.stat().st_size
        self._raw = path.open("rb")
        self._counter = _CountingReader(self._raw)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._counter, buffer_size=SCAN_CHUNK),
            encoding=self.encoding,
            newline="",
        )
        first_line = self._text.readline()
        header_text = first_line.rstrip("\r\n")
        self.delimiter = self._choose_delimiter(header_text, known_columns)
        parsed = next(csv.reader([header_text], delimiter=self.delimiter), [])
        self.header = [normalize_header(name) for name in parsed]
        if not any(self.header):
            raise UnreadableFile(
                f"Filen {path.name} saknar rubrikrad – första raden är tom. Första raden ska "
                "innehålla kolumnnamnen."
            )
        encoding_name = "UTF-8" if self.encoding == "utf-8-sig" else "Windows-1252"
        delimiter_name = {";": "semikolon", ",": "komma", "\t": "tabb"}[self.delimiter]
        self.description = f"CSV, {encoding_name}, avgränsare {delimiter_name}"

    @staticmethod
    def _choose_delimiter(header: str, known_columns: frozenset[str]) -> str:
        def score(delimiter: str) -> tuple[int, int]:
            names = [normalize_header(name) for name in header.split(delimiter)]
            return (sum(name in known_columns for name in names), len(names))

        return max(DELIMITERS, key=score)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._text, delimiter=self.delimiter)
        line = 1
        for values in reader:
            # A row's number is the line it starts on; quoted fields may span several lines.
            start = line + 1
            line = reader.line_num + 1
            yield start, values

    def progress(self) -> tuple[int, int]:
        return self._counter.count, self._total

    def close(self) -> None:
        self._text.close()
        self._raw.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class XlsxReader:
    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.path = path
        try:
            self._workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a broken workbook
            raise UnreadableFile(
                f"Filen {path.name} ser ut som en Excel-fil men går inte att öppna ({error}). "
                "Spara den på nytt som .xlsx eller CSV."
            ) from error
        if not self._workbook.worksheets:
            raise UnreadableFile(f"Excel-filen {path.name} har inget kalkylblad.")
        sheet = self._workbook.worksheets[0]
        self._sheet = sheet
        self._rows = sheet.iter_rows(values_only=True)
        try:
            first = next(self._rows)
        except StopIteration:
            raise UnreadableFile(
                f"Excel-filen {path.name} är tom. Första raden ska innehålla kolumnnamnen."
            ) from None
        self.header = [normalize_header(_cell_text(value)) for value in first]
        if not any(self.header):
            raise UnreadableFile(
                f"Excel-filen {path.name} saknar rubrikrad – första raden är tom. Första raden "
                "ska innehålla kolumnnamnen."
            )
        self._done = 1
        self._total = sheet.max_row or 0
        self.description = f"Excel (XLSX), blad '{sheet.title}'"

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        line = 1
        for values in self._rows:
            line += 1
            self._done = line
            yield line, [_cell_text(value).strip() for value in values]

    def progress(self) -> tuple[int, int]:
        return self._done, max(self._total, self._done)

    def close(self) -> None:
        self._workbook.close()
