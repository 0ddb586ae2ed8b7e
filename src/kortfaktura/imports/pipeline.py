"""Reading and validating rows, in this process or in a helper process.

Validating a million rows is Python work; writing them is database work. For a large file a
spawned helper process reads and validates while this process writes, so the two overlap on two
cores. Small files are parsed in-process, where starting a process would cost more than it saves.

Nothing here touches Django or the database: the helper process imports only this module, the
readers and the kind's pure row parser.
"""

import csv
import importlib
import multiprocessing
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from kortfaktura import printable
from kortfaktura.imports.personal import mask, personal_number_problem
from kortfaktura.imports.readers import TableReader, UnreadableFile, open_table

HELPER_PROCESS_MIN_BYTES = 4_000_000


@dataclass
class QuarantineEntry:
    line: int
    reason: str
    raw: dict[str, str]


def quarantine_entry(
    header: list[str], line: int, values: list[str], reason: str
) -> QuarantineEntry:
    """The row as it is kept in quarantine; personal identity numbers masked (R16), values cut
    at ``RAW_VALUE_LIMIT`` characters (a 10 MB field is not worth keeping whole)."""
    raw = {
        mask(name): _kept(values[index])
        for index, name in enumerate(header)
        if name and index < len(values)
    }
    extra = values[len(header) :]
    if any(extra):
        raw["_extra"] = _kept(";".join(extra))
    return QuarantineEntry(line, mask(reason), raw)


RAW_VALUE_LIMIT = 2_000


def _kept(value: str) -> str:
    masked = mask(value)  # before cutting, so no number is cut in half and left unmasked
    if len(masked) > RAW_VALUE_LIMIT:
        return f"{mask(masked[:RAW_VALUE_LIMIT])}… ({len(value)} tecken)"
    return masked


_INTEGER = re.compile(r"-?\d+").fullmatch
_DECIMALS = re.compile(r"\d{1,2}").fullmatch


def _decimal_comma_collides(values: list[str]) -> bool:
    """Whether a comma-delimited row looks split at a decimal comma (``350,00`` → 350 | 00)."""
    return any(
        _INTEGER(values[index].strip()) and _DECIMALS(values[index + 1].strip())
        for index in range(len(values) - 1)
    )


def _surplus_reason(size: int, width: int, delimiter: str, values: list[str]) -> str:
    if delimiter == "," and _decimal_comma_collides(values):
        return (
            f"raden har fler fält än rubrikraden ({size} mot {width}) – filen använder komma som "
            "avgränsare och decimalkomma krockar (350,00 blir två fält); använd semikolon som "
            "avgränsare eller decimalpunkt (350.00), eller sätt talet inom citattecken"
        )
    return (
        f"Raden har {size} fält men rubrikraden har {width} – kontrollera "
        "avgränsare och citattecken på raden (ett fält med semikolon eller komma "
        "måste stå inom citattecken)."
    )


def _line_break_reason(header: list[str], values: list[str]) -> str | None:
    for index, value in enumerate(values):
        if "\n" in value or "\r" in value:
            column = header[index] if index < len(header) and header[index] else f"fält {index + 1}"
            return (
                f"{column} innehåller en radbrytning – inget fält får innehålla radbrytningar; "
                "skriv värdet på en rad i källfilen"
            )
    return None


class RowParser(Protocol):
    """A pure parser for one kind of file: rows in, chunks of validated records out."""

    quarantined: list[QuarantineEntry]

    def chunks(self, rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[Any, ...]]]: ...


@dataclass
class ShapeCounter:
    blank_lines: int = 0
    quarantined: list[QuarantineEntry] = field(default_factory=list)


def rows_with_shape(
    reader: TableReader,
    header: list[str],
    counter: ShapeCounter,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 20_000,
) -> Iterator[tuple[int, list[str]]]:
    """Pads short rows, counts blank ones and quarantines rows with surplus fields."""
    width = len(header)
    count = 0
    problems = reader.problems
    delimiter = getattr(reader, "delimiter", "")
    quarantined = counter.quarantined
    for line, given in reader.rows():
        count += 1
        if progress is not None and count % progress_every == 0:
            progress(*reader.progress())
        values = given
        size = len(values)
        if problems and line in problems:
            quarantined.append(quarantine_entry(header, line, values, problems.pop(line)))
            continue
        if size != width:
            if size < width:
                values = [*given, *([""] * (width - size))]
            elif any(value.strip() for value in values[width:]) or (
                delimiter == "," and _decimal_comma_collides(values)
            ):
                reason = _surplus_reason(size, width, delimiter, values)
                quarantined.append(quarantine_entry(header, line, values, reason))
                continue
        joined = "".join(values)
        if not joined.strip():
            counter.blank_lines += 1
            continue
        if "\n" in joined or "\r" in joined:
            reason = _line_break_reason(header, values) or "raden innehåller en radbrytning"
            quarantined.append(quarantine_entry(header, line, values, reason))
            continue
        problem = personal_number_problem(header, values) or control_character_problem(
            header, values
        )
        if problem is not None:
            quarantined.append(quarantine_entry(header, line, values, problem))
            continue
        yield line, values
    if progress is not None:
        progress(*reader.progress())


# Escape, DEL and the other C0/C1 controls (tab, CR and LF are handled above or are white space
# that values are stripped of): they would reach terminals, XML and PDF as they are; and the
# invisible format characters and U+FFFD that ``printable`` names.
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{printable.HIDDEN_CLASS}]")


def control_character_problem(header: list[str], values: list[str]) -> str | None:
    for index, value in enumerate(values):
        found = _CONTROL.search(value)
        if found:
            column = header[index] if index < len(header) and header[index] else f"fält {index + 1}"
            return (
                f"{column} innehåller {printable.describe(found.group())} som inte får finnas "
                "i en faktura – ta bort det ur källfilen och importera filen igen"
            )
    return None


@dataclass
class ParsedChunk:
    records: list[tuple[Any, ...]]
    quarantined: list[QuarantineEntry]
    done: int
    total: int


@dataclass
class ParseEnd:
    blank_lines: int


def _load_parser(parser_path: str, header: list[str], options: dict[str, Any]) -> RowParser:
    module_name, _, class_name = parser_path.partition(":")
    parser: RowParser = getattr(importlib.import_module(module_name), class_name)(header, **options)
    return parser


def _take_quarantined(counter: ShapeCounter, parser: RowParser) -> list[QuarantineEntry]:
    """Hands over the entries so far; the lists are emptied in place, as the parser's running
    generator holds on to its own list."""
    entries = [*counter.quarantined, *parser.quarantined]
    counter.quarantined.clear()
    parser.quarantined.clear()
    return entries


def _parse(
    path: Path, parser_path: str, known_columns: frozenset[str], options: dict[str, Any]
) -> Iterator[ParsedChunk | ParseEnd]:
    reader = open_table(path, known_columns)
    try:
        parser = _load_parser(parser_path, reader.header, options)
        counter = ShapeCounter()
        for records in parser.chunks(rows_with_shape(reader, reader.header, counter)):
            yield ParsedChunk(records, _take_quarantined(counter, parser), *reader.progress())
        yield ParsedChunk([], _take_quarantined(counter, parser), *reader.progress())
        yield ParseEnd(counter.blank_lines)
    finally:
        reader.close()


def parsed_chunks(
    path: Path,
    parser_path: str,
    known_columns: frozenset[str],
    options: dict[str, Any] | None = None,
) -> Iterator[ParsedChunk | ParseEnd]:
    """The file's validated records in chunks; in a helper process when the file is large."""
    options = options or {}
    if path.stat().st_size < HELPER_PROCESS_MIN_BYTES:
        yield from _parse(path, parser_path, known_columns, options)
        return
    yield from _parse_in_helper(path, parser_path, known_columns, options)


def _helper_main(
    sender: Connection,
    path: str,
    parser_path: str,
    known_columns: frozenset[str],
    options: dict[str, Any],
) -> None:
    try:
        for message in _parse(Path(path), parser_path, known_columns, options):
            sender.send(message)
    except (UnreadableFile, csv.Error, UnicodeDecodeError) as error:
        sender.send(("unreadable", type(error).__name__, str(error)))
    except BaseException:
        sender.send(("crash", "", traceback.format_exc()))
    finally:
        sender.close()


def _parse_in_helper(
    path: Path, parser_path: str, known_columns: frozenset[str], options: dict[str, Any]
) -> Iterator[ParsedChunk | ParseEnd]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    helper = context.Process(
        target=_helper_main,
        args=(sender, str(path), parser_path, known_columns, options),
        name="kortfaktura-parser",
        daemon=True,
    )
    helper.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise RuntimeError("Hjälpprocessen som läser filen avslutades oväntat.") from None
            if isinstance(message, ParsedChunk):
                yield message
            elif isinstance(message, ParseEnd):
                yield message
                return
            else:
                status, error_type, text = message
                if status == "unreadable":
                    if error_type == "Error":
                        raise csv.Error(text)
                    raise UnreadableFile(text)
                raise RuntimeError(f"Hjälpprocessen som läser filen föll:\n{text}")
    finally:
        receiver.close()
        if helper.is_alive():
            helper.terminate()
        helper.join()
