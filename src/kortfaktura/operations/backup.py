"""``kortfaktura backup --out FILE``: a consistent copy of the SQLite database while the
application runs.

The copy is made with SQLite's online backup API in one step: it reads the database inside one
read transaction, so it is a snapshot of one moment even while others write (in WAL mode they
are not held up), and never the torn file that ``cp`` of a live database can give. It is written
to a new file beside the target (mode 600: the database holds personal data), checked with
``PRAGMA integrity_check``, switched to a single self-contained file (no ``-wal``) and only then
put in place; an existing file is replaced only with ``force``. The backup is recorded in the
audit trail (``backup.created``) with the file's SHA-256 – unless the database still waits for
``kortfaktura init`` after an upgrade, when the current code cannot write to its audit table yet:
the copy is made all the same (a backup before ``init`` is exactly what an upgrade needs) and
the answer says it was not recorded.

PostgreSQL has its own tool: ``postgresql_command`` says which ``pg_dump`` to run.
"""

import dataclasses
import hashlib
import os
import shlex
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils.timezone import localdate

from kortfaktura.audit.services import record
from kortfaktura.documents.services import os_reason
from kortfaktura.operations.health import describe_database, sqlite_file


class BackupError(Exception):
    """The backup cannot be made; the message is Swedish and says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSqlite(BackupError):
    """The database is PostgreSQL: ``command`` is the pg_dump to use instead."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class Backup:
    file: Path
    database: str
    size_bytes: int
    sha256: str
    integrity: str
    seconds: float
    audited: bool
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "database": self.database,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "integrity": self.integrity,
            "seconds": round(self.seconds, 3),
            "audited": self.audited,
            **({"note": self.note} if self.note else {}),
        }


def postgresql_command(out: Path) -> str:
    """The pg_dump that makes the backup of this PostgreSQL database (custom format, restored
    with pg_restore; the password comes from ~/.pgpass or PGPASSWORD, never from here)."""
    config = settings.DATABASES["default"]
    parts = ["pg_dump", "--format=custom", f"--file={out}"]
    if config.get("HOST"):
        parts.append(f"--host={config['HOST']}")
    if config.get("PORT"):
        parts.append(f"--port={config['PORT']}")
    if config.get("USER"):
        parts.append(f"--username={config['USER']}")
    parts.append(str(config["NAME"]))
    return shlex.join(parts)


def _refuse_target(out: Path, database: Path) -> None:
    if out.is_dir():
        raise BackupError(
            f"--out {out} är en katalog – ange ett filnamn i den, t.ex. "
            f"{out / f'kortfaktura-{localdate():%Y-%m-%d}.sqlite3'}"
        )
    sidecars = [database] + [database.with_name(database.name + end) for end in SIDECARS]
    if any(_same(out, file) for file in sidecars):
        raise BackupError(
            f"--out {out} är själva databasen – en säkerhetskopia måste vara en annan fil, "
            "gärna på en annan disk"
        )
    if out.exists() and not out.is_file():
        raise BackupError(f"--out {out} är ingen vanlig fil (t.ex. en enhet) – ange ett filnamn")
    parent = out.parent
    if not parent.is_dir():
        raise BackupError(f"katalogen {parent} finns inte – skapa den först eller ange en annan")


SIDECARS = ("-wal", "-shm", "-journal")


def _same(one: Path, other: Path) -> bool:
    """The same file, or the same place for one: a copy named like the database's -wal file,
    which is not there between writes, would become its journal."""
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return one.exists() and other.exists() and one.samefile(other)
    except OSError:
        return False


def _pending_migrations() -> bool:
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return True


def backup_sqlite(out: Path, *, force: bool = False) -> Backup:
    """Copy the SQLite database to ``out`` (see the module's description)."""
    database = sqlite_file()
    if database is None:
        if connection.vendor != "sqlite":
            command = postgresql_command(out)
            raise NotSqlite(
                f"Databasen är {describe_database()}: säkerhetskopiera den med PostgreSQLs "
                f"eget verktyg, pg_dump (kommandot står på standard ut; återställ med "
                "pg_restore, se docs/operations.md, Säkerhetskopiering). Ingen kopia gjordes.",
                command,
            )
        raise BackupError("databasen ligger bara i minnet och kan inte säkerhetskopieras")
    if not database.is_file():
        raise BackupError(
            f"{describe_database()} finns inte – det finns inget att säkerhetskopiera "
            "(kör kortfaktura init, eller ange KORTFAKTURA_DATA_DIR där filen ligger)"
        )
    out = Path(os.path.abspath(out))
    _refuse_target(out, database)
    if out.exists() and not force:
        raise BackupError(
            f"{out} finns redan – välj ett nytt filnamn, eller ange --force för att ersätta "
            "den (den gamla kopian ersätts först när den nya är kontrollerad)"
        )
    started = time.monotonic()
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as error:
        raise BackupError(
            f"katalogen {out.parent} går inte att skriva i ({os_reason(error)}) – ange "
            "en plats där du får skriva"
        ) from None
    os.close(descriptor)
    temporary = Path(name)
    try:
        integrity = _copy(database, temporary)
        _place(temporary, out, force=force)
    finally:
        temporary.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    digest = hashlib.sha256()
    with out.open("rb") as copy:
        for block in iter(lambda: copy.read(1 << 20), b""):
            digest.update(block)
    result = Backup(
        out, str(database), out.stat().st_size, digest.hexdigest(), integrity, seconds, False
    )
    if _pending_migrations():
        return dataclasses.replace(
            result,
            note="databasen väntar på kortfaktura init efter en uppgradering, så kopian kan inte "
            "antecknas i granskningsloggen förrän efter init",
        )
    try:
        with transaction.atomic():
            record(
                "backup.created",
                f"säkerhetskopia {out.name}",
                {
                    "file": str(out),
                    "database": str(database),
                    "size_bytes": result.size_bytes,
                    "sha256": result.sha256,
                    "integrity": integrity,
                },
            )
    except OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        # The copy is whole and checked; only the note about it waits on a long writer.
        return dataclasses.replace(
            result,
            note="databasen var upptagen av en annan process längre än "
            "KORTFAKTURA_SQLITE_TIMEOUT, så kopian antecknades inte i granskningsloggen; "
            "kopian är ändå gjord och kontrollerad",
        )
    return dataclasses.replace(result, audited=True)


def _copy(database: Path, target: Path) -> str:
    options: Any = settings.DATABASES["default"].get("OPTIONS") or {}
    timeout = float(options.get("timeout", 30))
    try:
        source = sqlite3.connect(database, timeout=timeout)
        try:
            copy = sqlite3.connect(target)
            try:
                # pages=-1 (the default): everything in one step, inside one read transaction –
                # a snapshot that a concurrent writer can neither tear nor make restart.
                source.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                _register_functions(copy)
                rows = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as error:
        raise BackupError(
            f"kopian kunde inte göras: {error} – försök igen; är databasen upptagen länge, "
            "kör säkerhetskopieringen när ingen stor import eller körning pågår"
        ) from None
    except OSError as error:
        raise BackupError(f"kopian kunde inte skrivas: {os_reason(error)}") from None
    if rows != ["ok"]:
        raise BackupError(
            "kopian klarade inte kontrollen (PRAGMA integrity_check: "
            f"{'; '.join(rows[:3])}) – ingen kopia sparades; kontrollera databasen och disken"
        )
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
    return "ok"


def _register_functions(copy: sqlite3.Connection) -> None:
    """The schema's CHECK constraints call REGEXP, which integrity_check evaluates: give the copy
    the same functions Django gives its own connections."""
    from django.db.backends.sqlite3._functions import register  # type: ignore[import-untyped]

    register(copy)


def _place(temporary: Path, out: Path, *, force: bool) -> None:
    try:
        if force:
            os.replace(temporary, out)
        else:
            os.link(temporary, out)  # refuses a file that appeared meanwhile
        directory = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except FileExistsError:
        raise BackupError(
            f"{out} finns redan – välj ett nytt filnamn, eller ange --force för att ersätta den"
        ) from None
    except OSError as error:
        raise BackupError(f"{out} kunde inte skrivas: {os_reason(error)}") from None
