"""Fast set-wise reads and writes for large imports, on SQLite and PostgreSQL.

The ORM costs tens of microseconds per object; a million orders need the database's own bulk
paths: ``executemany`` on SQLite and ``COPY`` on PostgreSQL. Everything runs on Django's
connection, inside the caller's transaction.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def prefer_index_lookups() -> None:
    """Within the current transaction on PostgreSQL, look rows up by index, never by scanning.

    A table that grows by a million rows inside one import transaction has no fresh statistics,
    so the planner would scan the whole table for every chunk's key lookup (quadratic time).
    Disabling scans makes every plan look costly, which would make PostgreSQL compile each later
    query of the transaction (JIT, about half a second each): JIT is off for it too.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL jit = off")


ANALYZE_AFTER_ROWS = 50_000


def refresh_statistics(*tables: str) -> None:
    """After a bulk write, let PostgreSQL's planner see the new size of the tables.

    Without it, a query right after loading a million rows is planned for the old, small table
    (measured: an empty re-run 3.97 s before, 0.37 s after). SQLite plans without statistics.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: wrap its errors so callers see Django's IntegrityError.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy,
            ):
                copy.write(copy_text(rows))
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({column_list}) VALUES ({_placeholders(len(columns))})",
                rows,
            )


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """Rows in PostgreSQL's COPY text format.

    Built with one join per row; psycopg's ``write_row`` costs several microseconds a row in
    Python. Only values that need it (backslash, tab, newline, carriage return, NULL) are escaped.
    """
    lines = []
    for row in rows:
        # Inline, not a call per value: str() writes ints, Decimals and booleans ("True") in a
        # form COPY reads; NULL is \N.
        line = "\t".join(
            [
                value if type(value) is str else ("\\N" if value is None else str(value))
                for value in row
            ]
        )
        if line.count("\t") != len(row) - 1 or "\\" in line or "\n" in line or "\r" in line:
            line = "\t".join([_copy_value(value) for value in row])
        lines.append(line)
    lines.append("")
    return "\n".join(lines)


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` new primary keys for ``table``, so that related rows can be written in bulk.

    PostgreSQL draws them from the table's sequence (safe under concurrency). SQLite takes the
    next ones after the highest ever used; the caller's write transaction holds SQLite's lock.
    """
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT MAX(last) FROM (SELECT MAX(id) AS last FROM {table} "
            "UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)",
            [table],
        )
        first = (cursor.fetchone()[0] or 0) + 1
    return list(range(first, first + count))


def update_rows(
    table: str,
    key_column: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
) -> None:
    """Each row is the new values for ``columns`` followed by the key. Values of
    ``json_columns`` are JSON text."""
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    assignments = ", ".join(
        f"{column} = %s{cast if column in json_columns else ''}" for column in columns
    )
    rows = list(rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {key_column} = %s", rows)


def select_by_keys(
    table: str, key_column: str, columns: Sequence[str], keys: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Rows of ``table`` whose ``key_column`` is one of ``keys``; the key comes first."""
    if not keys:
        return []
    column_list = ", ".join([key_column, *columns])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {column_list} FROM {table} WHERE {key_column} = ANY(%s)", [list(keys)]
            )
        else:
            cursor.execute(
                f"SELECT {column_list} FROM {table} WHERE {key_column} IN "
                f"({_placeholders(len(keys))})",
                list(keys),
            )
        return list(cursor.fetchall())


FINGERPRINT_SEPARATOR = "\x1f"
KEY_SEPARATOR = "\x1e"


def fingerprint(values: Sequence[str]) -> str:
    return FINGERPRINT_SEPARATOR.join(values)


def new_and_changed(
    table: str, key_column: str, columns: Sequence[str], fingerprints: dict[str, str]
) -> tuple[set[str], dict[str, int]]:
    """Which keys are not in ``table`` yet, and the row ids of those that differ.

    A fingerprint is the text ``columns`` joined by U+001F; the columns must be NOT NULL text, and
    neither keys nor values may contain U+001E or U+001F (the order parser refuses control
    characters). Returns ``(new keys, {changed key: row id})``.
    """
    if not fingerprints:
        return set(), {}
    if connection.vendor == "postgresql":
        return _new_and_changed_by_server(table, key_column, columns, fingerprints)
    return _new_and_changed_here(table, key_column, columns, fingerprints)


def _new_and_changed_by_server(
    table: str, key_column: str, columns: Sequence[str], fingerprints: dict[str, str]
) -> tuple[set[str], dict[str, int]]:
    """PostgreSQL compares: unchanged rows never travel back, which keeps re-importing a
    million unchanged rows cheap."""
    stored = f"concat_ws(chr(31), {', '.join(f'o.{column}' for column in columns)})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k.key, o.id FROM unnest(string_to_array(%s, chr(30)), "
            f"string_to_array(%s, chr(30))) AS k(key, fp) "
            f"LEFT JOIN {table} o ON o.{key_column} = k.key "
            f"WHERE o.id IS NULL OR {stored} IS DISTINCT FROM k.fp",
            [KEY_SEPARATOR.join(fingerprints), KEY_SEPARATOR.join(fingerprints.values())],
        )
        rows = cursor.fetchall()
    new = {key for key, pk in rows if pk is None}
    return new, {key: pk for key, pk in rows if pk is not None}


def _new_and_changed_here(
    table: str, key_column: str, columns: Sequence[str], fingerprints: dict[str, str]
) -> tuple[set[str], dict[str, int]]:
    """SQLite runs in this process: fetching its fingerprints by key and comparing here is
    cheaper than shipping ours to it (measured 4× cheaper on an empty table than json_each)."""
    keys = list(fingerprints)
    stored = " || char(31) || ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key_column}, id, {stored} FROM {table} "
            f"WHERE {key_column} IN ({_placeholders(len(keys))})",
            keys,
        )
        found = {key: (pk, text) for key, pk, text in cursor.fetchall()}
    changed = {key: pk for key, (pk, text) in found.items() if text != fingerprints[key]}
    return set(fingerprints).difference(found), changed
