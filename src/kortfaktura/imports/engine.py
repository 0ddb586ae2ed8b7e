"""Runs one import: reads a file, hands its rows to the kind's importer, records the outcome.

Every row ends as exactly one of imported, updated, unchanged or quarantined (DOMAIN.md R14).
The whole file is imported in one transaction: a file that cannot be read to the end leaves
nothing behind but a failed batch record that says why.
"""

import csv
import difflib
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from kortfaktura import db_errors
from kortfaktura.audit.services import record
from kortfaktura.imports import bulk
from kortfaktura.imports.models import ImportBatch, QuarantinedRow
from kortfaktura.imports.personal import mask
from kortfaktura.imports.pipeline import (
    ParseEnd,
    QuarantineEntry,
    ShapeCounter,
    parsed_chunks,
    quarantine_entry,
    rows_with_shape,
)
from kortfaktura.imports.readers import TableReader, UnreadableFile, open_table
from kortfaktura.locks import hold_billing_data_lock

ProgressCallback = Callable[[int, int], None]
QUARANTINE_INSERT_CHUNK = 2_000


class ImportFailed(Exception):
    """The file could not be used at all; nothing of it was imported."""

    def __init__(self, message: str, batch_id: int | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


@dataclass
class ImportResult:
    kind: str
    file_name: str
    batch_id: int
    file_format: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    blank_lines: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    # unknown column → the known column it probably means ("menade du buyer_reference?")
    suggestions: dict[str, str] = field(default_factory=dict)
    # What a person should know although nothing was held back, e.g. accounts made incomplete.
    warnings: list[str] = field(default_factory=list)
    rows: list[QuarantineEntry] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.imported + self.updated + self.unchanged + self.quarantined

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file_name,
            "batch_id": self.batch_id,
            "format": self.file_format,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "blank_lines": self.blank_lines,
            "unknown_columns": self.unknown_columns,
            "suggestions": self.suggestions,
            "warnings": self.warnings,
            "rows": [{"line": entry.line, "reason": entry.reason} for entry in self.rows],
        }


class Importer:
    """One kind of input file. Subclasses declare their columns and implement ``process``."""

    kind: ClassVar[str]
    tables: ClassVar[tuple[str, ...]] = ()  # written in bulk: statistics refreshed afterwards
    required_columns: ClassVar[tuple[str, ...]]
    optional_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, batch: ImportBatch, header: list[str]) -> None:
        self.batch = batch
        self.header = header
        self.columns = {name: index for index, name in enumerate(header) if name}
        self.imported = 0
        self.updated = 0
        self.unchanged = 0
        self.quarantine_entries: list[QuarantineEntry] = []
        self.warnings: list[str] = []

    @classmethod
    def known_columns(cls) -> frozenset[str]:
        return frozenset(cls.required_columns) | frozenset(cls.optional_columns)

    def has(self, column: str) -> bool:
        return column in self.columns

    def quarantine(self, line: int, values: list[str], reason: str) -> None:
        self.quarantine_entries.append(quarantine_entry(self.header, line, values, reason))

    def process(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Work after the last row (e.g. resolving references); inside the transaction."""

    def audit(self, action: str, label: str, details: dict[str, Any]) -> None:
        """One audit record of a change this file made (inside the import's transaction)."""
        record(
            action,
            label,
            {**details, "file": self.batch.file_name, "batch": self.batch.pk},
            actor=self.batch.created_by or None,
        )

    def audit_details(self) -> dict[str, Any]:
        """Facts of this kind for the batch's audit record (e.g. changes that wait)."""
        return {}


class ChunkedImporter(Importer):
    """A kind whose rows a pure ``row_parser`` validates, possibly in a helper process
    (``imports.pipeline``); the importer only writes the validated records."""

    row_parser: ClassVar[str]

    def parser_options(self) -> dict[str, Any]:
        """Keyword arguments for the row parser (plain values: they may go to a helper process)."""
        return {"today": timezone.localdate()}

    def write(self, records: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_columns_message(
    path: Path, importer_class: type[Importer], header: list[str], missing: list[str]
) -> str:
    plural = "Kolumnerna" if len(missing) > 1 else "Kolumnen"
    found = ", ".join(name for name in header if name) or "inga"
    if len(found) > 300:  # a whole data row taken for the header
        found = f"{found[:300]}… ({len(header)} kolumner)"
    required = ", ".join(importer_class.required_columns)
    return (
        f"{plural} {', '.join(missing)} saknas i rubrikraden i {path.name}. "
        f"Filen har kolumnerna: {found}. En fil av typen '{importer_class.kind}' måste ha: "
        f"{required}. Kontrollera att första raden är rubrikraden och att rätt fil valts."
    )


def import_file(
    importer_class: type[Importer],
    path: Path,
    *,
    created_by: str = "",
    user_id: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import ``path``; raises ``ImportFailed`` (with a Swedish message) if it cannot be used."""
    path = Path(path)
    try:
        reader = open_table(path, importer_class.known_columns())
    except UnreadableFile as error:
        raise ImportFailed(
            str(error), _record_failure(importer_class, path, str(error), created_by, user_id)
        ) from error
    try:
        header = reader.header
        duplicates = sorted({name for name in header if name and header.count(name) > 1})
        if duplicates:
            raise UnreadableFile(
                f"Rubrikraden i {path.name} har kolumnen {', '.join(duplicates)} mer än en gång. "
                "Ta bort eller byt namn på dubbletten."
            )
        missing = [name for name in importer_class.required_columns if name not in header]
        if missing:
            raise UnreadableFile(_missing_columns_message(path, importer_class, header, missing))
        known = importer_class.known_columns()
        unknown = [mask(name) for name in header if name and name not in known]
        return _import_rows(importer_class, path, reader, unknown, created_by, user_id, progress)
    except (UnreadableFile, csv.Error, UnicodeDecodeError, DatabaseError) as error:
        message = mask(_failure_message(path, error))
        # The person gets a Swedish sentence; the audit trail also keeps the database's own
        # words, which whoever investigates the failure needs.
        cause = mask(_first_line(error)) if isinstance(error, DatabaseError) else ""
        raise ImportFailed(
            message,
            _record_failure(importer_class, path, message, created_by, user_id, cause=cause),
        ) from error
    finally:
        reader.close()


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def _failure_message(path: Path, error: Exception) -> str:
    if isinstance(error, csv.Error):  # Python's English ("field larger than field limit")
        return (
            f"Filen {path.name} kunde inte läsas som CSV (en rad följer inte CSV-formatet). "
            "Kontrollera citattecken och radbrytningar, eller spara filen på nytt från Excel."
        )
    if isinstance(error, OperationalError) and "locked" in str(error).lower():
        return (
            "Databasen är upptagen av en annan process – försök igen om en stund "
            f"(en annan import eller körning skriver just nu; {path.name} importerades inte)"
        )
    if isinstance(error, IntegrityError):
        return (
            f"Filen {path.name} kunde inte sparas: databasen nekade en ändring ({error}). "
            "Ingenting importerades; kontrollera filens rader mot befintliga data."
        )
    if isinstance(error, DatabaseError):  # read-only, unreachable, disk full … in Swedish
        return f"Filen {path.name} kunde inte sparas i databasen: {db_errors.describe(error)}"
    return str(error)


def column_suggestions(unknown: list[str], known: frozenset[str]) -> dict[str, str]:
    """``buyer_ref`` → ``buyer_reference``: the known column an unknown one probably means."""
    suggestions = {}
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        if close:
            suggestions[name] = close[0]
    return suggestions


def _import_rows(
    importer_class: type[Importer],
    path: Path,
    reader: TableReader,
    unknown: list[str],
    created_by: str,
    user_id: int | None,
    progress: ProgressCallback | None,
) -> ImportResult:
    with transaction.atomic():
        hold_billing_data_lock()
        batch = ImportBatch.objects.create(
            kind=importer_class.kind,
            file_name=path.name,
            sha256=file_sha256(path),
            size_bytes=path.stat().st_size,
            unknown_columns=unknown,
            created_by=created_by,
            user_id=user_id,
        )
        result = ImportResult(
            kind=importer_class.kind,
            file_name=path.name,
            batch_id=batch.pk,
            file_format=reader.description,
            unknown_columns=unknown,
            suggestions=column_suggestions(unknown, importer_class.known_columns()),
        )
        importer = importer_class(batch, reader.header)
        if isinstance(importer, ChunkedImporter):
            reader.close()
            result.blank_lines = _write_parsed_chunks(importer, path, progress)
        else:
            counter = ShapeCounter()
            importer.process(rows_with_shape(reader, reader.header, counter, progress))
            importer.quarantine_entries.extend(counter.quarantined)
            result.blank_lines = counter.blank_lines
        importer.finish()
        if importer.imported + importer.updated >= bulk.ANALYZE_AFTER_ROWS:
            bulk.refresh_statistics(*importer.tables)
        entries = sorted(importer.quarantine_entries, key=lambda entry: entry.line)
        for start in range(0, len(entries), QUARANTINE_INSERT_CHUNK):
            QuarantinedRow.objects.bulk_create(
                QuarantinedRow(batch=batch, line=entry.line, raw=entry.raw, reason=entry.reason)
                for entry in entries[start : start + QUARANTINE_INSERT_CHUNK]
            )
        result.imported = importer.imported
        result.updated = importer.updated
        result.unchanged = importer.unchanged
        result.quarantined = len(entries)
        result.rows = entries
        result.warnings = [mask(text) for text in importer.warnings]
        batch.imported = result.imported
        batch.updated = result.updated
        batch.unchanged = result.unchanged
        batch.quarantined = result.quarantined
        batch.blank_lines = result.blank_lines
        _pause_for_tests("IMPORT")  # every row written, nothing committed
        batch.status = ImportBatch.Status.COMPLETED
        batch.finished_at = max(timezone.now(), batch.started_at)
        batch.save()
        record(
            f"import.{batch.kind}",
            f"fil {batch.file_name}",
            {
                "imported": result.imported,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "quarantined": result.quarantined,
                **_batch_facts(batch),
                "format": result.file_format,
                "blank_lines": result.blank_lines,
                **({"unknown_columns": unknown} if unknown else {}),
                **importer.audit_details(),
            },
            actor=created_by or None,
        )
    return result


def _pause_for_tests(step: str) -> None:
    """Fault injection for the engine's crash tests (a worker killed mid-import): hold the
    transaction open for ``KORTFAKTURA_TEST_PAUSE_IN_<STEP>`` seconds. Unset in normal use."""
    pause = os.environ.get(f"KORTFAKTURA_TEST_PAUSE_IN_{step}")
    if pause:
        sys.stderr.write(f"kortfaktura: testpaus i {step.lower()}\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def _batch_facts(batch: ImportBatch) -> dict[str, Any]:
    return {
        "kind": batch.kind,
        "file": batch.file_name,
        "size_bytes": batch.size_bytes,
        "sha256": batch.sha256,
        "batch": batch.pk,
    }


def _write_parsed_chunks(
    importer: ChunkedImporter, path: Path, progress: ProgressCallback | None
) -> int:
    """Writes the parsed records chunk by chunk; returns the number of blank lines."""
    chunks = parsed_chunks(
        path, importer.row_parser, importer.known_columns(), importer.parser_options()
    )
    for message in chunks:
        if isinstance(message, ParseEnd):
            return message.blank_lines
        importer.quarantine_entries.extend(message.quarantined)
        if message.records:
            importer.write(message.records)
        if progress is not None:
            progress(message.done, message.total)
    raise RuntimeError("filen lästes inte till slut")


def _record_failure(
    importer_class: type[Importer],
    path: Path,
    message: str,
    created_by: str,
    user_id: int | None,
    *,
    cause: str = "",
) -> int | None:
    """Keep an audit record of the failed attempt; the data itself was rolled back."""
    try:
        digest = file_sha256(path) if path.is_file() else ""
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        digest, size = "", 0
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.create(
                kind=importer_class.kind,
                file_name=path.name,
                sha256=digest,
                size_bytes=size,
                status=ImportBatch.Status.FAILED,
                error=message,
                created_by=created_by,
                user_id=user_id,
            )
            # After the insert: started_at is set when the row is written, so finished_at
            # taken before it would be earlier.
            batch.finished_at = max(timezone.now(), batch.started_at)
            batch.save(update_fields=["finished_at"])
            record(
                "import.failed",
                f"fil {batch.file_name}",
                {
                    **_batch_facts(batch),
                    "status": batch.status,
                    "error": message,
                    **({"database_error": cause} if cause else {}),
                },
                actor=created_by or None,
            )
    except DatabaseError:
        return None  # e.g. the database is still locked; the message says what happened
    return batch.pk
