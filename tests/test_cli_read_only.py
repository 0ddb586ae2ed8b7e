"""A database that this user may read but not change (issue 17, minors): an auditor's copy of the
SQLite file in a directory without write permission, or a PostgreSQL role with
``default_transaction_read_only``. The commands that only read work; those that write say in
Swedish that the database is read-only, exit 1, and change nothing.

As root, file permissions stop nobody; the command then runs under ``setpriv --bounding-set=-all``
(root without capabilities), for which permissions count as for any user."""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import psycopg
import pytest

from conftest import (
    CUSTOMER_HEADER,
    ORDER_HEADER,
    PRICE_HEADER,
    customer_row,
    order_row,
    write_csv,
)
from processes import SCRIPT, _admin_url, run
from test_cli_messages import assert_swedish

READING = [
    ["review"],
    ["audit"],
    ["invoice", "list"],
    ["run", "show", "1"],
    ["changes", "list", "--status", "all"],
    ["delivery", "list"],
    ["bill", "--from", "2020-03-01", "--to", "2020-04-30", "--preview"],
]
READ_ONLY = "databasen är skrivskyddad"


def some_data(env: dict[str, str], cwd: Path) -> None:
    """Two issued invoices and one draft: something for every list to show."""
    goteborg = customer_row("212000-1355", "Göteborgs Stad", "1480", peppol_id="0007:2120001355")
    rows = [customer_row(), goteborg]
    files = {
        "customers": write_csv(cwd / "kunder.csv", CUSTOMER_HEADER, rows),
        "prices": write_csv(
            cwd / "priser.csv",
            PRICE_HEADER,
            [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]],
        ),
        "orders": write_csv(
            cwd / "bestallningar.csv",
            ORDER_HEADER,
            [
                order_row("B1"),
                order_row("B2", "2020-03-20"),
                order_row("B3", "2020-03-21", "212000-1355"),
                order_row("B4", "2020-04-02"),
            ],
        ),
    }
    assert run(env, cwd, "init").returncode == 0
    for kind, path in files.items():
        done = run(env, cwd, "import", kind, str(path))
        assert done.returncode == 0, done.stderr
    for period in (("2020-03-01", "2020-03-31"), ("2020-04-01", "2020-04-30")):
        made = run(env, cwd, "bill", "--from", period[0], "--to", period[1], "--json")
        assert made.returncode == 0, made.stderr
    issued = run({**env, "KORTFAKTURA_ACTOR": "ekonomi"}, cwd, "run", "issue", "1")
    assert issued.returncode == 0, issued.stderr


def as_reader(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kortfaktura ARGS`` as a user to whom file permissions apply."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root needs setpriv to drop the capabilities")
        prefix = [setpriv, "--bounding-set=-all"]
    return subprocess.run(
        [*prefix, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def files_in(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


def assert_reads_work_and_writes_are_refused(
    env: dict[str, str], cwd: Path, directory: Path | None
) -> None:
    before = files_in(directory) if directory else {}
    for args in READING:
        machine = as_reader(env, cwd, *args, "--json")
        assert machine.returncode == 0, (args, machine.stderr)
        assert machine.stderr == "", (args, machine.stderr)
        read = json.loads(machine.stdout)
        if args == ["invoice", "list"]:
            assert [invoice["number"] for invoice in read] == ["100001", "100002"]
    for args in (["review"], ["audit"]):  # and as a person reads them
        human = as_reader(env, cwd, *args)
        assert human.returncode == 0, (args, human.stderr)
        assert human.stderr == "" and human.stdout, (args, human.stderr)

    late = write_csv(cwd / "sena.csv", ORDER_HEADER, [order_row("B9", "2020-03-30")])
    for args in (
        ["import", "orders", str(late)],
        ["credit", "100001", "--reason", "fel pris"],
        ["export", "sie", "--from", "2020-01-01", "--to", "2026-10-31", "--out", "bok.se"],
    ):
        refused = as_reader(env, cwd, *args, "--json")
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        message = json.loads(refused.stdout)["error"]
        assert READ_ONLY in message, (args, message)
        assert "Kör kommandot" in message  # what to do
        assert_swedish(message + refused.stderr, without=(str(cwd),))
    if directory:
        assert files_in(directory) == before  # not a byte changed, no journal left behind


# SQLite -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("original")
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(cwd / "var"), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    some_data(env, cwd)
    return cwd / "var" / "kortfaktura.sqlite3"


def copy_for_auditor(original: Path, cwd: Path, *, journal: str, directory_writable: bool) -> Path:
    """A consistent copy (SQLite's backup API, as `sqlite3 … .backup` makes it) in its own
    directory; the file, and unless told otherwise the directory, without write permission."""
    directory = cwd / "kopia"
    directory.mkdir()
    target = directory / "kortfaktura.sqlite3"
    source, copy = sqlite3.connect(original), sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute(f"PRAGMA journal_mode={journal}")
    finally:
        source.close()
        copy.close()
    target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    if not directory_writable:
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    return directory


@pytest.mark.slow
@pytest.mark.parametrize(
    ("journal", "directory_writable"),
    [("WAL", False), ("DELETE", False), ("WAL", True)],
    ids=["wal-copy-read-only-directory", "rollback-journal-copy", "read-only-file"],
)
def test_a_read_only_sqlite_database_can_be_read_but_not_changed(
    sqlite_original: Path, tmp_path: Path, journal: str, directory_writable: bool
) -> None:
    directory = copy_for_auditor(
        sqlite_original, tmp_path, journal=journal, directory_writable=directory_writable
    )
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(directory), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    try:
        # A writable directory gets SQLite's -shm and -wal beside a WAL file; that is SQLite's
        # own way to read one, so the directory is compared only when it is read-only.
        assert_reads_work_and_writes_are_refused(
            env, tmp_path, None if directory_writable else directory
        )
    finally:
        directory.chmod(stat.S_IRWXU)


# PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture
def read_only_role(fresh: tuple[dict[str, str], Path]) -> Iterator[tuple[dict[str, str], Path]]:
    """The fresh database with some data, and a login role that may only read it."""
    env, cwd = fresh
    if not env.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("PostgreSQL only (DATABASE_URL)")
    some_data(env, cwd)
    config = dj_database_url.parse(env["DATABASE_URL"])
    role = f"kf_cli_reader_{uuid.uuid4().hex[:8]}"
    database_url = _admin_url(config).rsplit("/", 1)[0] + f"/{config['NAME']}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
        admin.execute(f'GRANT CONNECT ON DATABASE "{config["NAME"]}" TO "{role}"')
        admin.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    host, port = config.get("HOST") or "127.0.0.1", config.get("PORT") or 5432
    reader = {**env, "DATABASE_URL": f"postgres://{role}@{host}:{port}/{config['NAME']}"}
    try:
        yield reader, cwd
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@pytest.mark.slow
def test_a_read_only_postgresql_role_can_read_but_not_change(
    read_only_role: tuple[dict[str, str], Path],
) -> None:
    env, cwd = read_only_role
    assert_reads_work_and_writes_are_refused(env, cwd, None)
