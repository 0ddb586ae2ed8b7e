"""``kortfaktura import customers|prices|orders|billed FILE``."""

import argparse
import getpass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from kortfaktura import swedish
from kortfaktura.cli.output import console, fail, print_json, progress_bar
from kortfaktura.cli.parsing import Subparsers
from kortfaktura.imports.engine import ImportFailed, ImportResult
from kortfaktura.imports.services import IMPORTERS, import_file

KIND_NAMES = {
    "customers": "kunder",
    "prices": "priser",
    "orders": "beställningar",
    "billed": "tidigare fakturerade beställningar",
}
SHOWN_QUARANTINE_ROWS = 20


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        with progress_bar(f"Läser {escape(path.name)}", unit_is_bytes=True) as progress:
            result = import_file(args.kind, path, created_by=getpass.getuser(), progress=progress)
    except ImportFailed as error:
        if args.json:
            print_json({"error": str(error), "batch_id": error.batch_id})
        fail(f"{escape(str(error))}\nIngenting importerades.")
        return 1
    if args.json:
        print_json(result.as_json())
    else:
        print_result(result)
    return 0


def print_result(result: ImportResult) -> None:
    console.print(
        f"[bold]Import av {KIND_NAMES[result.kind]}[/] från {escape(result.file_name)} "
        f"({escape(result.file_format)}), import nr {result.batch_id}"
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("Nya", swedish.count(result.imported))
    table.add_row("Ändrade", swedish.count(result.updated))
    table.add_row("Oförändrade", swedish.count(result.unchanged))
    table.add_row("I karantän", swedish.count(result.quarantined))
    table.add_row("Rader totalt", swedish.count(result.total))
    if result.blank_lines:
        table.add_row("Tomma rader (hoppades över)", swedish.count(result.blank_lines))
    console.print(table)
    if result.unknown_columns:
        console.print(
            "[yellow]Okända kolumner lästes inte (fälten lämnades som de var):[/] "
            + escape(
                ", ".join(
                    f"{name} (menade du {result.suggestions[name]}?)"
                    if name in result.suggestions
                    else name
                    for name in result.unknown_columns
                )
            )
        )
    for warning in result.warnings:
        console.print(f"[yellow]Obs:[/] {escape(warning)}")
    if result.rows:
        pronoun = "den" if result.quarantined == 1 else "dem"
        console.print(
            f"[yellow]{swedish.counted(result.quarantined, 'rad', 'rader')} hölls tillbaka i "
            f"karantän[/] – rätta {pronoun} i källfilen och importera den igen:"
        )
        for entry in result.rows[:SHOWN_QUARANTINE_ROWS]:
            console.print(f"  rad {entry.line}: {escape(entry.reason)}")
        if len(result.rows) > SHOWN_QUARANTINE_ROWS:
            console.print(
                f"  … och {swedish.count(len(result.rows) - SHOWN_QUARANTINE_ROWS)} till "
                "(alla finns med i --json och i granskningen)"
            )


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="importera kunder, priser, beställningar eller tidigare fakturerat",
        description="Importerar en CSV- eller XLSX-fil. Samma fil två gånger ändrar ingenting.",
    )
    parser.add_argument("kind", choices=sorted(IMPORTERS), help="vad filen innehåller")
    parser.add_argument("file", help="sökväg till CSV- eller XLSX-filen")
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=run, needs_database=True)
