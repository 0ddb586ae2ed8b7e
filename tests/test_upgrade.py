"""Upgrades keep data (issue 18): a database made by the last release before issue 18 – a SQLite
file and a PostgreSQL dump in tests/fixtures/upgrade, made by scripts/make-upgrade-fixtures.sh
with the old code – is upgraded with today's ``kortfaktura init``, and then holds the same issued
documents (their stored Peppol files byte for byte), the same deliveries and audit trail, a
review that balances, and database guards that still refuse to change history.

Every later schema change must keep this test green: a migration that cannot carry the old data
forward, or that drops a guard (SQLite rebuilds tables and loses their triggers), fails here.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
import pytest

from processes import _admin_url, run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upgrade"
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgres")

pytestmark = pytest.mark.slow


def manifest(backend: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{backend}.json").read_text("utf-8"))
    return loaded


@pytest.fixture
def sqlite_copy(tmp_path: Path) -> Iterator[tuple[dict[str, str], Any]]:
    """The old SQLite file as a data directory's database, and a raw connection maker."""
    if ON_POSTGRESQL:
        pytest.skip("the SQLite upgrade runs with the SQLite suite")
    data = tmp_path / "var"
    data.mkdir()
    database = data / "kortfaktura.sqlite3"
    shutil.copyfile(FIXTURES / "kortfaktura-old.sqlite3", database)
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    env.pop("KORTFAKTURA_PEPPOL_RULES_DIR", None)
    yield env, lambda: sqlite3.connect(database, isolation_level=None)


@pytest.fixture
def postgresql_copy() -> Iterator[tuple[dict[str, str], Any]]:
    """The old PostgreSQL dump restored into a fresh database named after the suite's own
    (``<name>_upgrade``), dropped afterwards."""
    if not ON_POSTGRESQL:
        pytest.skip("the PostgreSQL upgrade runs with the PostgreSQL suite")
    if shutil.which("psql") is None:
        pytest.fail("psql is needed to restore the dump (scripts/install-system-packages.sh)")
    url = os.environ["DATABASE_URL"]
    config = dj_database_url.parse(url)
    name = f"{config['NAME']}_upgrade"
    admin = _admin_url(config)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    target = admin.rsplit("/", 1)[0] + f"/{name}"
    restored = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f",
         str(FIXTURES / "kortfaktura-old.postgresql.sql")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    env = {**os.environ, "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{name}", "COLUMNS": "200"}
    env.pop("KORTFAKTURA_PEPPOL_RULES_DIR", None)
    try:
        yield env, lambda: psycopg.connect(target, autocommit=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def refused(connect: Any, statement: str) -> str:
    """The database's refusal of ``statement`` (it must refuse)."""
    connection = connect()
    try:
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error)) as refusal:
            connection.execute(statement)
        return str(refusal.value)
    finally:
        connection.close()


def upgraded_database_keeps_history(
    backend: str, env: dict[str, str], connect: Any, tmp_path: Path
) -> None:
    expected = manifest(backend)
    cwd = tmp_path / "arbetskatalog"
    cwd.mkdir()

    # Before: the old database is not current for today's code only if a migration was added
    # since; either way init brings it up to date and a second init has nothing left to do.
    first = json_of(run(env, cwd, "init", "--json"))
    assert json_of(run(env, cwd, "init", "--json"))["migrations_applied"] == 0
    assert first["migrations_applied"] >= 0

    # The same issued documents, byte for byte as they were stored when issued (internal
    # charges have no Peppol document; they are checked as PDFs below).
    invoices = json_of(run(env, cwd, "invoice", "list", "--json"))
    numbers = sorted(str(invoice["number"]) for invoice in invoices)
    assert len(numbers) == expected["issued"]
    out = tmp_path / "ubl"
    peppol = [document["number"] for document in expected["documents"]]
    exported = json_of(run(env, cwd, "invoice", "export", *peppol, "--format", "ubl",
                           "--out", str(out), "--json"))  # fmt: skip
    assert not exported.get("failed") and not exported.get("invalid"), exported
    stored = {
        path.stem: hashlib.sha256(path.read_bytes()).hexdigest() for path in out.glob("*.xml")
    }
    assert stored == {doc["number"]: doc["sha256"] for doc in expected["documents"]}, (
        "a stored Peppol document differs from the one the old release issued"
    )
    pdf = json_of(run(env, cwd, "invoice", "export", *numbers, "--format", "pdf",
                      "--out", str(tmp_path / "pdf"), "--json"))  # fmt: skip
    assert not pdf.get("failed"), pdf
    assert len(list((tmp_path / "pdf").glob("*.pdf"))) == len(numbers)

    # The review balances, every stored document matches its hash, no number is missing.
    review = run(env, cwd, "review", "--json")
    report = json_of(review)
    assert report["balanced"] is True
    assert report["invalid_documents"] == []
    assert report["numbering"]["gaps"] == []
    kept = {row["month"]: row["orders"] for row in expected["months"]}
    assert {row["month"]: row["orders"] for row in report["months"]} == kept

    # Deliveries and the audit trail came along.
    deliveries = json_of(run(env, cwd, "delivery", "list", "--json"))
    assert (
        sorted([str(row["number"]), row["channel"], row["status"]] for row in deliveries)
        == expected["deliveries"]
    )
    audit = json_of(run(env, cwd, "audit", "--json"))
    assert len(audit) >= expected["audit_records"]

    # The guards still refuse to rewrite history, on the upgraded schema.
    number = expected["documents"][0]["number"]
    for statement, guard in (
        (f"UPDATE billing_invoice SET payable = payable + 1 WHERE number = {number}",
         "issued_document_immutable"),
        (f"DELETE FROM billing_invoice WHERE number = {number}", "issued_document_immutable"),
        ("UPDATE documents_issueddocument SET format = 'pdf'", "issued_document_immutable"),
        ("DELETE FROM documents_issueddocument", "issued_document_immutable"),
        ("UPDATE audit_auditrecord SET actor = 'någon annan'", "audit_append_only"),
        ("DELETE FROM audit_auditrecord", "audit_append_only"),
    ):  # fmt: skip
        assert guard in refused(connect, statement), statement
    after = run(env, cwd, "review", "--json")
    assert json_of(after)["balanced"] is True


def test_the_old_sqlite_database_upgrades_with_its_history(
    sqlite_copy: tuple[dict[str, str], Any], tmp_path: Path
) -> None:
    env, connect = sqlite_copy
    upgraded_database_keeps_history("sqlite", env, connect, tmp_path)


def test_the_old_postgresql_dump_upgrades_with_its_history(
    postgresql_copy: tuple[dict[str, str], Any], tmp_path: Path
) -> None:
    env, connect = postgresql_copy
    upgraded_database_keeps_history("postgresql", env, connect, tmp_path)


def test_the_fixtures_were_made_by_the_old_release() -> None:
    """The fixtures are what an installation of the last release before issue 18 holds: its
    schema had no migration after these (a later one must be applied by init, never baked in)."""
    connection = sqlite3.connect(FIXTURES / "kortfaktura-old.sqlite3")
    try:
        applied = {
            f"{app}.{name}"
            for app, name in connection.execute("SELECT app, name FROM django_migrations")
        }
    finally:
        connection.close()
    assert "billing.0005_internal_charges" in applied
    assert "delivery.0002_receipts" in applied
    dump = (FIXTURES / "kortfaktura-old.postgresql.sql").read_text("utf-8")
    for migration in applied:
        app, name = migration.split(".")
        assert f"{app}\t{name}\t" in dump, migration
    assert "68109980dc95c064dc5e36d89e22d887a0287066" in (FIXTURES / "SOURCE.md").read_text()
