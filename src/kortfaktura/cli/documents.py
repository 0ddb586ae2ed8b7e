"""``kortfaktura invoice export (--run RUN_ID | NUMBER …) --format FORMAT --out DIR``."""

import argparse
from pathlib import Path

from kortfaktura import swedish
from kortfaktura.cli.output import console, fail, print_json, progress_bar
from kortfaktura.cli.parsing import Subparsers, id_argument
from kortfaktura.documents.services import (
    RENDERERS,
    ExportError,
    export_documents,
    select_documents,
)


def export(args: argparse.Namespace) -> int:
    if (args.run is None) == (not args.numbers):
        message = "ange antingen --run RUN_ID eller ett eller flera fakturanummer"
        if args.json:
            print_json({"error": message})
        fail(message)
        return 2
    try:
        invoices = select_documents(args.run, args.numbers)
    except ExportError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    directory = Path(args.out)
    try:
        with progress_bar(f"Skriver {args.format}", unit_is_bytes=False) as progress:
            result = export_documents(
                invoices, args.format, directory, progress=progress, run_id=args.run
            )
    except ExportError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    if args.json:
        print_json(
            {
                "format": result.format,
                "out": str(result.directory),
                "files": [str(path) for path in result.files],
                "validated": result.validated,
                "invalid": [
                    {"number": str(number), "findings": [str(f) for f in findings]}
                    for number, findings in sorted(result.invalid.items())
                ],
                "failed": [
                    {"number": str(number), "reason": reason}
                    for number, reason in sorted(result.failed.items())
                ],
            }
        )
    else:
        console.print(
            f"{swedish.counted(len(result.files), 'fil', 'filer')} ({result.format}) "
            f"{'skriven' if len(result.files) == 1 else 'skrivna'} till {directory}."
        )
        if result.validated:
            console.print(
                "Varje UBL-dokument klarade Peppols och EN 16931:s regler och UBL-schemat."
            )
        elif result.validated is False:
            console.print(
                "[yellow]Peppol-reglerna finns inte på den här datorn: dokumenten är inte "
                "validerade.[/] Ange KORTFAKTURA_PEPPOL_RULES_DIR."
            )
    for number, findings in sorted(result.invalid.items()):
        fail(f"{number} skrevs inte – det bryter mot reglerna:")
        for finding in findings[:10]:
            fail(f"  {finding}")
    for number, reason in sorted(result.failed.items()):
        fail(f"{number} skrevs inte – {reason}")
    problems = len(result.invalid) + len(result.failed)
    if problems:
        fail(
            f"{swedish.count(problems)} av {swedish.count(len(invoices))} dokument skrevs inte "
            f"(se ovan); de övriga {swedish.count(len(result.files))} skrevs."
        )
        return 1
    return 0


def add_export_parser(actions: Subparsers) -> None:
    parser = actions.add_parser(
        "export",
        help="skriv utfärdade fakturor som UBL (Peppol), PDF, XLSX eller CSV",
        description=(
            "Skriver en fil per utfärdad faktura eller kreditfaktura, med numret som filnamn "
            "(t.ex. 100001.pdf). Ange antingen --run eller ett eller flera fakturanummer. "
            "Slutkod 1 om katalogen inte går att skriva i eller om något dokument inte kunde "
            "skrivas (de övriga skrivs ändå och felen listas)."
        ),
    )
    parser.add_argument(
        "numbers",
        nargs="*",
        type=id_argument,
        metavar="FAKTURANUMMER",
        help="ett eller flera fakturanummer, t.ex. 100001 100002 (se invoice list)",
    )
    parser.add_argument(
        "--run",
        type=id_argument,
        metavar="KÖRNING",
        help="alla dokument i en körning, t.ex. --run 3",
    )
    parser.add_argument(
        "--format",
        required=True,
        choices=sorted(RENDERERS),
        help="ubl: Peppol BIS Billing 3.0 (XML), pdf: PDF/A med specifikation, xlsx: "
        "specifikationen i Excel, csv: specifikationen som CSV; t.ex. --format pdf",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="KATALOG",
        help="katalogen som filerna skrivs till (skapas vid behov), t.ex. /tmp/kortfaktura/pdf",
    )
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=export, needs_database=True)
