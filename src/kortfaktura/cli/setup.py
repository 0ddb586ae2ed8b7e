"""``kortfaktura init``: create or upgrade the database."""

import argparse
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from kortfaktura.cli.errors import shown_path
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers
from kortfaktura.operations.health import describe_database
from kortfaktura.swedish import os_reason


def database_problem() -> str | None:
    """Why commands cannot use the database yet, or None when it is ready."""
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():  # type: ignore[attr-defined]
        try:
            Path(str(connection.settings_dict["NAME"])).stat()
        except FileNotFoundError:
            return (
                f"Databasen ({describe_database()}) finns inte ännu. Kör först: kortfaktura init "
                "(eller ange DATABASE_URL för att använda PostgreSQL)."
            )
        except OSError as error:
            return (
                f"Databasen ({describe_database()}) går inte att nå: {os_reason(error)}. "
                "Kontrollera KORTFAKTURA_DATA_DIR och rättigheterna."
            )
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return f"Databasen ({describe_database()}) går inte att nå: {_explained(error)}"
    if pending:
        return (
            f"Databasen ({describe_database()}) är inte skapad eller behöver uppgraderas. "
            "Kör först: kortfaktura init"
        )
    return None


class DataDirectoryError(Exception):
    """KORTFAKTURA_DATA_DIR cannot be made; the message is Swedish."""


def _explained(error: DatabaseError) -> str:
    """The database error in Swedish with what to do (kortfaktura.db_errors)."""
    from kortfaktura import db_errors

    return db_errors.describe(error)


def initialize_database() -> int:
    """Apply all migrations; returns how many were applied."""
    if connection.vendor == "sqlite":
        try:
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataDirectoryError(
                f"datakatalogen {shown_path(settings.DATA_DIR)} kan inte skapas: "
                f"{os_reason(error)}. Ange en katalog du får skriva i med KORTFAKTURA_DATA_DIR."
            ) from None
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", interactive=False, verbosity=0)
    return len(pending)


def run(args: argparse.Namespace) -> int:
    try:
        applied = initialize_database()
    except (DatabaseError, DataDirectoryError) as error:
        reason = str(error) if isinstance(error, DataDirectoryError) else _explained(error)
        message = f"Databasen ({describe_database()}) kunde inte skapas: {reason}"
        if args.json:
            print_json({"error": message})
        fail(message)
        return 1
    if args.json:
        print_json({"database": describe_database(), "migrations_applied": applied})
    elif applied:
        console.print(f"Databasen är klar: {describe_database()} ({applied} ändringar gjorda).")
    else:
        console.print(f"Databasen är redan aktuell: {describe_database()}.")
    return 0


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("init", help="skapa eller uppgradera databasen")
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=run)
