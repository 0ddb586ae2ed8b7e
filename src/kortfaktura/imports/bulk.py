"""Fast set-wise reads and writes for large imports, on SQLite and PostgreSQL.

The ORM costs tens of microseconds per object; a million orders need the database's own bulk
paths: ``executemany`` on SQLite and ``COPY`` on PostgreSQL. Everything runs on Django's
connection, inside the caller's transaction.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw_cursor = cursor.cursor
            with raw_cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({column_list}) VALUES ({_placeholders(len(columns))})",
                rows,
            )


def update_rows(
    table: str, key_column: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Each row is the new values for ``columns`` followed by the key."""
    assignments = ", ".join(f"{column} = %s" for column in columns)
    rows = list(rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {key_column} = %s", rows)


def select_by_keys(
    table: str, key_column: str, columns: Sequence[str], keys: Sequence[str]
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
