"""Django's SQLite backend, except that a database file this user may read but not change is
opened read-only (an auditor's copy, a read-only mount, a file owned by the service account):
every command that only reads works, and one that writes gets SQLite's "attempt to write a
readonly database", which the command line answers in Swedish (``kortfaktura.db_errors``).

Decided when a connection opens, from the file itself, so that ``NAME`` stays the path that
messages and path checks use, and a test database (in memory) is never affected.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db.backends.sqlite3 import base


def is_read_only(path: Path) -> bool:
    """The file, or the directory where SQLite keeps its journal, is not writable by this user."""
    try:
        if not path.is_file():
            return False  # nothing to read yet; `init` says what is wrong
        return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK))
    except OSError:
        return False


def read_only_uri(path: Path) -> str:
    """``mode=ro``; and ``immutable=1`` for a database in WAL mode whose directory is read-only
    and has no ``-shm`` file: SQLite could not open it at all otherwise, and no process can be
    writing to it then (a writer keeps that file while it has the database open)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return uri
    wal = header[18:20] == b"\x02\x02"  # the file format's read and write versions: 2 = WAL
    shm = path.with_name(path.name + "-shm")
    if wal and not shm.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        uri += "&immutable=1"
    return uri


class DatabaseWrapper(base.DatabaseWrapper):
    read_only = False

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        name = str(params["database"])
        self.read_only = not name.startswith("file:") and is_read_only(Path(name))
        if self.read_only:
            params["database"] = read_only_uri(Path(name))
            # Switching the journal to WAL is a write; a read-only database keeps its own.
            commands: list[str] = self.init_commands  # type: ignore[has-type]
            self.init_commands = [c for c in commands if "journal_mode" not in c]
        return params
