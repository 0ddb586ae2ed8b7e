"""Streaming readers for the input files (INTERFACES.md: CSV or XLSX with a header row).

A reader never holds the whole file in memory. It yields ``(line, values)`` where ``line`` is the
line (CSV) or row (XLSX) number a person sees when opening the file, and ``values`` are strings.
Problems that make the whole file unusable raise ``UnreadableFile`` with a Swedish message.
"""

import codecs
import csv
import datetime as dt
import io
import logging
import math
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol

from kortfaktura.swedish import os_reason

logger = logging.getLogger(__name__)

SCAN_CHUNK = 1 << 20
# Python's csv module refuses fields over 128 KB by default, which would refuse a whole file for
# one overlong value; with a higher limit such a row reaches the kind's length checks and is
# quarantined. Beyond this limit the file is refused, naming the line.
CSV_FIELD_LIMIT = 16_000_000
HEADER_LIMIT = 100_000  # characters in the first row
DELIMITERS = (";", ",", "\t")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"

# Limits checked on the zip directory of an XLSX file before anything is decompressed, so that a
# zip bomb is refused in milliseconds (docs/formats.md). zipfile never reads more than a member's
# declared size, so the declared sizes bound the work.
XLSX_MAX_MEMBERS = 10_000
XLSX_MAX_UNCOMPRESSED = 1_000_000_000  # bytes, all members together
XLSX_MAX_RATIO = 100  # uncompressed / compressed, for members larger than XLSX_RATIO_FROM
XLSX_RATIO_FROM = 1_000_000


class UnreadableFile(Exception):
    """The file as a whole cannot be used; the message says why and what to do, in Swedish."""


class TableReader(Protocol):
    header: list[str]
    description: str
    # Rows the reader could read but not trust, by line: the reason to quarantine them.
    problems: dict[int, str]

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
    try:
        is_file = path.is_file()
        exists = is_file or path.exists()
    except OSError as error:  # e.g. a name too long: Path.exists answers only "no such file"
        raise UnreadableFile(
            f"Filen {_shown(path)} kan inte läsas: {os_reason(error)}. Kontrollera sökvägen."
        ) from error
    if not exists:
        raise UnreadableFile(f"Filen {path} finns inte. Kontrollera sökvägen.")
    if not is_file:
        raise UnreadableFile(f"{path} är ingen fil.")
    try:
        with path.open("rb") as probe:
            head = probe.read(8)
    except OSError as error:
        raise UnreadableFile(
            f"Filen {path.name} kan inte läsas ({os_reason(error)}). Kontrollera att du "
            "har behörighet att läsa den."
        ) from error
    if not head:
        raise UnreadableFile(
            f"Filen {path.name} är tom. Exportera filen på nytt med en rubrikrad och minst en rad."
        )
    suffix = path.suffix.lower()
    if head.startswith(XLSX_MAGIC):
        check_zip_limits(path)
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
    _refuse_mixed_encoding(path)
    _check_windows_1252(path)
    return "cp1252"


def _refuse_mixed_encoding(path: Path) -> None:
    """A file that is not UTF-8 as a whole is read as Windows-1252 only if no line of it is
    UTF-8 with non-ASCII characters. A UTF-8 file with one stray Windows-1252 byte is refused,
    naming the line: reading it either way would turn some characters into wrong ones."""
    utf8_line = bad_line = 0
    bad_byte = 0
    line = 1
    with path.open("rb") as handle:
        has_bom = handle.read(3) == codecs.BOM_UTF8
        handle.seek(0)
        for piece in handle:
            if not piece.isascii():
                try:
                    piece.decode("utf-8")
                except UnicodeDecodeError as error:
                    if not bad_line:
                        bad_line, bad_byte = line, piece[error.start]
                else:
                    utf8_line = utf8_line or line
            if utf8_line and bad_line:
                break
            # Lines end at \n, \r\n or a lone \r, as the CSV reader counts them.
            line += 1 + piece.count(b"\r") - piece.count(b"\r\n") - piece.endswith(b"\r")
    if bad_line and (utf8_line or has_bom):
        evidence = f"rad {utf8_line} är UTF-8" if utf8_line else "filen börjar med UTF-8-BOM"
        raise UnreadableFile(
            f"Filen {path.name} har blandad teckenkodning: {evidence}, men rad {bad_line} "
            f"innehåller byten 0x{bad_byte:02x}, som inte är giltig UTF-8 (troligen ett tecken i "
            "Windows-1252, t.ex. å, ä eller ö). Filen lästes inte, eftersom tecken annars skulle "
            f"bli fel. Skriv om tecknet på rad {bad_line} och spara filen som CSV UTF-8."
        )


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
        self.problems: dict[int, str] = {}
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
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
        # A header row is a few hundred characters; one of megabytes is another kind of file
        # (or no line breaks at all), and quoting it back would drown the message.
        if len(header_text) > HEADER_LIMIT:
            raise UnreadableFile(
                f"Första raden i {path.name} är {len(header_text):,} tecken lång".replace(",", " ")
                + " – det är ingen rubrikrad. Första raden ska innehålla kolumnnamnen, "
                "åtskilda med semikolon eller komma. Kontrollera att rätt fil valts och att den "
                "är en CSV- eller Excel-fil med en rad per post."
            )
        try:
            parsed = next(csv.reader([header_text], delimiter=self.delimiter), [])
        except csv.Error:
            raise UnreadableFile(
                f"Första raden i {path.name} kunde inte läsas som en rubrikrad i CSV-format. "
                "Kontrollera citattecknen i kolumnnamnen, eller spara filen på nytt från Excel."
            ) from None
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
        return self._records(self._text, 2)

    def _records(self, lines: Iterable[str], start: int) -> Iterator[tuple[int, list[str]]]:
        """One row per physical line. No field of any input may hold a line break: a record that
        an unbalanced quote stretches over several lines is reported as a problem of its first
        line, and the lines it swallowed are read again as rows of their own."""
        taken: list[str] = []

        def physical() -> Iterator[str]:
            for text in lines:
                taken.append(text)
                yield text

        line = start
        records = csv.reader(physical(), delimiter=self.delimiter)
        while True:
            try:
                values = next(records)
            except StopIteration:
                return
            except csv.Error as error:
                logger.debug("CSV %s, line %s: %s", self.path, line, error)
                reason = (
                    f"ett fält är större än {CSV_FIELD_LIMIT // 1_000_000} MB"
                    if "field limit" in str(error)
                    else "raden följer inte CSV-formatet"
                )
                raise UnreadableFile(
                    f"Filen {self.path.name} kunde inte läsas som CSV på rad {line} ({reason}). "
                    f"Ett fält får vara högst {CSV_FIELD_LIMIT // 1_000_000} MB; kontrollera "
                    "raden eller spara filen på nytt från Excel."
                ) from error
            span = len(taken)
            if span == 1 and not ('"' in taken[0] and _has_line_break(values)):
                taken.clear()
                yield line, values
                line += 1
                continue
            swallowed = taken[1:]
            first_text = taken[0]
            taken.clear()
            first = next(csv.reader([first_text.rstrip("\r\n")], delimiter=self.delimiter), [])
            self.problems[line] = _unbalanced_quote_reason(line, span)
            yield line, [" ".join(value.split()) for value in first]
            yield from self._records(swallowed, line + 1)
            line += span

    def progress(self) -> tuple[int, int]:
        return self._counter.count, self._total

    def close(self) -> None:
        self._text.close()
        self._raw.close()


def _has_line_break(values: list[str]) -> bool:
    return any("\n" in value or "\r" in value for value in values)


def _unbalanced_quote_reason(line: int, span: int) -> str:
    if span > 1:
        where = f"fortsatte posten över raderna {line}–{line + span - 1}"
        after = f"; raderna {line + 1}–{line + span - 1} lästes som egna rader"
        if span == 2:
            after = f"; rad {line + 1} lästes som egen rad"
    else:
        where, after = "tog filen slut inuti fältet", ""
    return (
        f'ett citattecken (") öppnas på raden men stängs inte, så {where} – inget fält får '
        f"innehålla en radbrytning{after}. Rätta citattecknet i källfilen och importera igen"
    )


def check_zip_limits(path: Path) -> None:
    """Refuse an XLSX file whose zip directory declares more than the documented limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnreadableFile(
            f"Filen {path.name} ser ut som en Excel-fil men går inte att öppna "
            f"({xlsx_reason(path, error)}). Spara den på nytt som .xlsx eller CSV."
        ) from error
    advice = "Kontrollera filen; en vanlig Excel-fil kan sparas på nytt eller som CSV."
    if len(members) > XLSX_MAX_MEMBERS:
        raise UnreadableFile(
            f"Excel-filen {path.name} innehåller {len(members)} delar (högst "
            f"{XLSX_MAX_MEMBERS}) och lästes inte. {advice}"
        )
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise UnreadableFile(
            f"Excel-filen {path.name} packas upp till {total // 1_000_000} MB (högst "
            f"{XLSX_MAX_UNCOMPRESSED // 1_000_000} MB) och lästes inte. Dela upp filen eller "
            "importera den som CSV."
        )
    for member in members:
        if member.file_size > XLSX_RATIO_FROM and (
            member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1)
        ):
            raise UnreadableFile(
                f"Excel-filen {path.name} har delen {member.filename[:80]} som packas upp "
                f"{member.file_size // max(member.compress_size, 1)} gånger (högst "
                f"{XLSX_MAX_RATIO}) – filen liknar en zip-bomb och lästes inte. {advice}"
            )


def xlsx_reason(path: Path, error: BaseException) -> str:
    """Why an XLSX file (a zip archive of XML parts) cannot be read, in Swedish: the zip, zlib,
    libxml2 and expat messages behind it are English and name parts a person never sees; the
    original goes to the log at debug level."""
    logger.debug("XLSX %s: %s: %s", path, type(error).__name__, error)
    if isinstance(error, zipfile.BadZipFile):
        if "crc" in str(error).lower():
            return "en del av filen är skadad – dess kontrollsumma stämmer inte"
        return "filen är inget helt zip-arkiv, som en Excel-fil är – den är troligen avkortad"
    if isinstance(error, zlib.error):
        return "en del av filen går inte att packa upp – filen är skadad"
    if isinstance(error, EOFError):
        return "filen tar slut för tidigt – den är avkortad"
    if isinstance(error, KeyError):
        return "en del som varje Excel-fil har saknas i filen"
    if isinstance(error, SyntaxError):  # lxml's XMLSyntaxError and ElementTree's ParseError
        return "filens innehåll (XML) är trasigt"
    if isinstance(error, OSError):
        return os_reason(error)
    return (
        "filen innehåller något som inte går att tolka, t.ex. en hänvisning till en text som saknas"
    )


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else f"{text[:70]}…{text[-30:]} ({len(text)} tecken)"


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value).upper()
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet holds a formula (``<f>`` element); read within the zip limits."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.filename.startswith("xl/worksheets/"):
                continue
            with archive.open(member) as stream:
                tail = b""
                while chunk := stream.read(SCAN_CHUNK):
                    window = tail + chunk
                    if b"<f>" in window or b"<f " in window or b":f>" in window or b":f " in window:
                        return True
                    tail = chunk[-4:]
    return False


class XlsxReader:
    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.path = path
        self.problems: dict[int, str] = {}
        self._formulas: Iterator[tuple[object, ...]] | None = None
        try:
            self._workbook = load_workbook(path, read_only=True, data_only=True)
            if _has_formulas(path):
                self._formula_book = load_workbook(path, read_only=True, data_only=False)
                self._formulas = self._formula_book.worksheets[0].iter_rows(values_only=True)
        except Exception as error:  # openpyxl raises many kinds for a broken workbook
            raise UnreadableFile(
                f"Filen {path.name} ser ut som en Excel-fil men går inte att öppna "
                f"({xlsx_reason(path, error)}). Spara den på nytt som .xlsx eller CSV."
            ) from error
        try:
            self._open_first_sheet()
        except UnreadableFile:
            self.close()
            raise
        except Exception as error:  # e.g. a chart sheet first, a dimension openpyxl cannot read
            self.close()
            raise UnreadableFile(
                f"Excel-filen {path.name} går inte att läsa ({xlsx_reason(path, error)}). "
                "Spara den på nytt som .xlsx eller CSV."
            ) from error

    def _open_first_sheet(self) -> None:
        path = self.path
        if not self._workbook.worksheets:
            raise UnreadableFile(f"Excel-filen {path.name} har inget kalkylblad.")
        sheet = self._workbook.worksheets[0]
        self._sheet = sheet
        self._rows = sheet.iter_rows(values_only=True)
        try:
            first = self._next_row(1)
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

    def _next_row(self, line: int) -> tuple[object, ...]:
        """The next row's values; a broken cell (e.g. a shared text that does not exist, a
        number that is no number) makes the file unusable, with a message naming the row."""
        try:
            values = next(self._rows)
            formulas = next(self._formulas, ()) if self._formulas is not None else ()
        except StopIteration:
            raise
        except Exception as error:
            raise UnreadableFile(
                f"Excel-filen {self.path.name} är trasig på rad {line} och kan inte läsas "
                f"({xlsx_reason(self.path, error)}). Öppna den i Excel och spara den på nytt, "
                "eller spara den som CSV."
            ) from error
        for index, formula in enumerate(formulas):
            if (
                isinstance(formula, str)
                and formula.startswith("=")
                and index < len(values)
                and values[index] is None
            ):
                column = _column_letter(index)
                self.problems[line] = (
                    f"cellen {column}{line} är en formel ({formula[:60]}) utan sparat värde, så "
                    "värdet går inte att läsa – öppna filen i Excel, låt den räkna om och spara, "
                    "eller klistra in cellerna som värden"
                )
                break
        return values

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        line = 1
        while True:
            line += 1
            try:
                values = self._next_row(line)
            except StopIteration:
                return
            self._done = line
            yield line, [_cell_text(value).strip() for value in values]

    def progress(self) -> tuple[int, int]:
        return self._done, max(self._total, self._done)

    def close(self) -> None:
        self._workbook.close()
        if self._formulas is not None:
            self._formula_book.close()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
