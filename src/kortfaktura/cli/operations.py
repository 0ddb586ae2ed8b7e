"""``kortfaktura check [--json]`` and ``kortfaktura backup --out FILE [--force] [--json]``.

Neither needs a working database to answer: ``check`` reports one that is missing or cannot be
reached as a failed check (exit 1), and ``backup`` says why it cannot copy.
"""

import argparse
from pathlib import Path

from rich.markup import escape

from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers


def check(args: argparse.Namespace) -> int:
    from kortfaktura.operations import health

    found = health.report(health.run_checks(deep=True))
    if args.json:
        print_json(found)
    else:
        width = max(len(item["name"]) for item in found["checks"])
        for item in found["checks"]:
            mark = "[green]✓[/]" if item["ok"] else "[bold red]✗[/]"
            # The details quote settings, e.g. sftp://ap@[2001:db8::1]/ut: never Rich markup.
            console.print(f"{mark} {item['name']:<{width}}  {escape(item['detail'])}")
    failed = [item["name"] for item in found["checks"] if not item["ok"]]
    if failed:
        fail(
            f"{len(failed)} av {len(found['checks'])} kontroller misslyckades "
            f"({', '.join(failed)}) – se vad som ska göras ovan."
        )
        return 1
    if not args.json:
        console.print(f"Allt i ordning: {len(found['checks'])} kontroller.")
    return 0


def backup(args: argparse.Namespace) -> int:
    from kortfaktura.operations.backup import BackupError, NotSqlite, backup_sqlite

    try:
        made = backup_sqlite(Path(args.out), force=args.force)
    except NotSqlite as refusal:
        if args.json:
            print_json({"error": refusal.message, "command": refusal.command})
        else:
            console.print(refusal.command, markup=False, highlight=False)
        fail(escape(refusal.message))
        return 1
    except BackupError as refusal:
        if args.json:
            print_json({"error": refusal.message})
        fail(escape(refusal.message))
        return 1
    if args.json:
        print_json(made.as_json())
        return 0
    megabytes = made.size_bytes / 1_000_000
    console.print(
        f"Säkerhetskopian är gjord: {escape(str(made.file))} ({megabytes:.1f} MB, "
        f"{made.seconds:.1f} s), kontrollerad (integrity_check: {made.integrity}). "
        f"SHA-256 {made.sha256}."
    )
    if made.audited:
        console.print("Den står i granskningsloggen (backup.created).")
    else:
        console.print(f"[yellow]Den står inte i granskningsloggen:[/] {escape(made.note)}.")
    return 0


def add_parsers(subparsers: Subparsers) -> None:
    checker = subparsers.add_parser(
        "check",
        help="kontrollera att installationen fungerar (databas, regler, typsnitt, kanaler)",
        description="Kontrollerar att databasen svarar och har alla ändringar, att Peppol-"
        "reglerna finns och går att läsa in, att typsnitten för PDF finns och att varje "
        "inställd leveranskanal går att använda (utkorg, inkorg, e-postserver, "
        "utskriftskatalog). Slutkod 0 när allt är i ordning, 1 när något inte är det; varje "
        "fel säger vad som ska göras. Samma svar som GET /healthz.",
    )
    checker.add_argument(
        "--json",
        action="store_true",
        help='maskinläsbart: {"status": "ok"|"fail", "checks": [{"name", "ok", "detail"}]}',
    )
    checker.set_defaults(handler=check)

    copier = subparsers.add_parser(
        "backup",
        help="säkerhetskopiera SQLite-databasen medan programmet kör",
        description="Gör en konsekvent kopia av SQLite-databasen med SQLites backup-API (även "
        "medan webben och andra kommandon skriver), kontrollerar kopian (PRAGMA "
        "integrity_check) och antecknar den i granskningsloggen. På PostgreSQL skrivs i stället "
        "det pg_dump-kommando som ska användas, och slutkoden är 1 (ingen kopia gjordes).",
    )
    copier.add_argument(
        "--out",
        required=True,
        metavar="FIL",
        help="kopian som skrivs, t.ex. /srv/backup/kortfaktura-2026-12-07.sqlite3 (får inte "
        "finnas, se --force)",
    )
    copier.add_argument(
        "--force",
        action="store_true",
        help="ersätt en befintlig fil (först när den nya kopian är kontrollerad)",
    )
    copier.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    copier.set_defaults(handler=backup)
