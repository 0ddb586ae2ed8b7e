"""``kortfaktura import customers|prices|orders|billed FILE``."""

import argparse
import textwrap
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.billing import changes
from kortfaktura.cli.output import console, fail, print_json, progress_bar
from kortfaktura.cli.parsing import Subparsers, SwedishRawEpilogFormatter
from kortfaktura.imports.engine import ImportFailed, ImportResult
from kortfaktura.imports.selectors import import_json
from kortfaktura.imports.services import IMPORTERS, import_file

KIND_NAMES = {
    "customers": "kunder",
    "prices": "priser",
    "orders": "beställningar",
    "billed": "tidigare fakturerade beställningar",
}
SHOWN_QUARANTINE_ROWS = 20
HELP_WIDTH = 96


def run(args: argparse.Namespace) -> int:
    if args.kind == "payments":
        from kortfaktura.cli import payments

        return payments.import_command(args)
    path = Path(args.file)
    try:
        with progress_bar(f"Läser {escape(path.name)}", unit_is_bytes=True) as progress:
            result = import_file(args.kind, path, created_by=current_actor(), progress=progress)
    except ImportFailed as error:
        if args.json:
            print_json({"error": str(error), "batch_id": error.batch_id})
        fail(f"{escape(str(error))}\nIngenting importerades.")
        return 1
    if args.json:
        print_json(import_json(result))
    else:
        print_result(result)
    return 0


def _pending_changes(result: ImportResult) -> tuple[int, int]:
    """Changes of invoiced orders that this import recorded, and all that wait (R14)."""
    if result.kind != "orders":
        return 0, 0
    return changes.recorded_for_decision(result.batch_id), changes.pending_count()


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
    recorded, waiting = _pending_changes(result)
    if recorded:
        console.print(
            f"[yellow]{swedish.counted(recorded, 'ändring', 'ändringar')} av redan fakturerade "
            f"beställningar väntar på beslut[/] (kund, enhet, "
            "artikel eller beställningsdatum): de genomförs inte förrän någon godkänner dem."
        )
    if waiting:
        others = f" (totalt {swedish.count(waiting)})" if waiting != recorded else ""
        console.print(
            f"Se ändringarna som väntar på beslut{others}: kortfaktura changes list · besluta "
            "med kortfaktura changes accept|reject ID … --reason TEXT"
        )


def columns_help() -> str:
    """The columns of each kind, from the importers' own declarations."""
    lines = ["Kolumner (rubrikraden; ordningen är fri, * = krävs):"]
    for kind in sorted(IMPORTERS):
        importer = IMPORTERS[kind]
        columns = [f"{name}*" for name in importer.required_columns]
        columns += [name for name in importer.optional_columns if name not in columns]
        lines.append(
            textwrap.fill(
                f"{kind} ({KIND_NAMES[kind]}): {', '.join(columns)}",
                width=HELP_WIDTH,
                initial_indent="  ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
        )
    for paragraph in (
        "CSV (UTF-8 eller Windows-1252, ; eller ,) eller XLSX. Datum ÅÅÅÅ-MM-DD, tider "
        "ÅÅÅÅ-MM-DD TT:MM (svensk tid) eller ISO 8601 med tidszon. En kolumn som saknas lämnar "
        "fältet orört; en tom cell tömmer det. Varje kolumn och kontroll beskrivs i "
        "docs/formats.md.",
        "payments (inbetalningar): en BgMax-fil från Bankgirot eller en camt.054-avisering "
        "(ISO 20022) från banken, matchas mot fakturor på OCR-nummer. Samma betalning läses "
        "aldrig in två gånger; en fil som inte går ihop läses inte in alls.",
        "Exempel: kortfaktura import orders var/demo/bestallningar.csv · kortfaktura import "
        "payments var/bank/bgmax-2026-12-01.txt",
        "Slutkod 0 även när rader hamnar i karantän (de listas); 1 om filen inte går att "
        "använda (ingenting importeras).",
    ):
        lines += ["", textwrap.fill(paragraph, width=HELP_WIDTH, break_on_hyphens=False)]
    return "\n".join(lines)


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="importera kunder, priser, beställningar eller tidigare fakturerat",
        description="Importerar en CSV- eller XLSX-fil. Samma fil två gånger ändrar ingenting.",
        epilog=columns_help(),
        formatter_class=SwedishRawEpilogFormatter,
    )
    parser.add_argument(
        "kind",
        choices=[*sorted(IMPORTERS), "payments"],
        help="vad filen innehåller: customers (kunder och fakturamottagare), prices (prislista), "
        "orders (beställningar), billed (fakturerat av det tidigare systemet), payments "
        "(inbetalningar: BgMax från Bankgirot eller camt.054 från banken, känns igen på "
        "innehållet)",
    )
    parser.add_argument(
        "file",
        metavar="FIL",
        help="sökväg till CSV- eller XLSX-filen (payments: BgMax- eller camt.054-filen), t.ex. "
        "var/demo/bestallningar.csv",
    )
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=run, needs_database=True)
