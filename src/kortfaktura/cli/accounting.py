"""``kortfaktura export sie``: issued documents as vouchers for the finance system (SIE 4)."""

import argparse
from pathlib import Path

from rich.markup import escape

from kortfaktura import swedish
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, SwedishArgumentParser, date_argument

EXIT_INPUT = 1
EXIT_USAGE = 2


def add_parser(subparsers: Subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="exportera till ekonomisystemet (SIE 4)",
        description="Exporterar utfärdade dokument till ekonomisystemet. Format: sie (SIE 4i).",
    )
    formats = export.add_subparsers(
        dest="format", metavar="FORMAT", parser_class=SwedishArgumentParser
    )
    formats.required = True
    parser = formats.add_parser(
        "sie",
        help="verifikationer i SIE 4 (typ 4i, PC8) för ekonomisystemet",
        description="Skriver en verifikation per faktura, kreditfaktura och intern debitering "
        "som utfärdats i perioden (efter fakturadatum) till en SIE 4-fil (typ 4i, teckentabell "
        "PC8/CP437): kundfordran, intäkt per konto, utgående moms per momssats och "
        "öresavrundning; interna debiteringar på interna konton med kostnadsstället som "
        "objekt; dessutom en verifikation per inbetalning med betalningsdag i perioden (serie KFB: "
        "bank mot kundfordringar) – en period med betalningar som redan bokförts vägras. "
        "Varje verifikation går ihop på öret, annars skrivs ingen fil. Exporten sparas "
        "i granskningsloggen med filens kontrollsumma. Kontoplanen ändras med miljövariabler, "
        "se docs/accounting.md. Slutkod 0 klart, 1 exporten gick inte att göra, 2 fel "
        "användning.",
    )
    parser.add_argument(
        "--from", dest="period_from", type=date_argument, metavar="DATUM", required=True,
        help="första fakturadatum (ÅÅÅÅ-MM-DD), t.ex. 2026-10-01",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="period_to", type=date_argument, metavar="DATUM", required=True,
        help="sista fakturadatum (ÅÅÅÅ-MM-DD), t.ex. 2026-10-31",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, metavar="FIL", required=True,
        help="SIE-filen som skrivs (.se, .si eller .sie), t.ex. var/ut/kortfaktura-2026-10.se; "
        "en tidigare fil med samma namn ersätts",
    )  # fmt: skip
    parser.add_argument(
        "--reason", default="", metavar="TEXT",
        help="varför en period som redan exporterats exporteras igen; sparas med exporten och "
        "i granskningsloggen (utan den varnar kommandot bara för överlappet), t.ex. "
        "'Ekonomisystemet läste inte in den förra filen'",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    parser.set_defaults(handler=sie_command, needs_database=True)


def _refuse(args: argparse.Namespace, message: str, code: int) -> int:
    if args.json:
        print_json({"error": message})
    fail(message)
    return code


def sie_command(args: argparse.Namespace) -> int:
    from kortfaktura.accounting import services

    try:
        result = services.export_sie(args.period_from, args.period_to, args.out, reason=args.reason)
    except services.SieUsageError as error:
        return _refuse(args, str(error), EXIT_USAGE)
    except services.SieError as error:
        return _refuse(args, str(error), EXIT_INPUT)
    if args.json:
        print_json(result.as_json())
        return 0
    period = f"{result.period_from.isoformat()} – {result.period_to.isoformat()}"
    out = console.print
    if result.vouchers == 0:
        out(
            f"Inga dokument utfärdades {period}: SIE-filen har inga verifikationer.",
            markup=False,
        )
    else:
        out(
            f"{swedish.counted(result.vouchers, 'verifikation', 'verifikationer')} för dokument "
            f"utfärdade {period} (nummer {result.first_number}–{result.last_number}).",
            markup=False,
        )
    out(
        f"Debet {swedish.money(result.debit)}, kredit {swedish.money(result.credit)} – "
        "varje verifikation går ihop.",
        markup=False,
    )
    for warning in result.warnings:
        out(f"[bold yellow]Varning:[/] {escape(warning)}")
    out(f"Skrev {result.file}", markup=False)
    out(f"Kontrollsumma (SHA-256): {result.sha256}", markup=False)
    return 0
