"""``import payments FILE``, ``payments list|assign|refund`` and ``receivables`` (R21, R22)."""

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from kortfaktura import swedish
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import (
    Subparsers,
    SwedishArgumentParser,
    date_argument,
    id_argument,
    positive_int_argument,
)

EXIT_INPUT = 1
STATUS_HELP = (
    "matched (matchad på OCR-nummer eller fakturanummer), unmatched (väntar på en person), "
    "assigned (kopplad av en person), refund (ska betalas tillbaka)"
)


def _refuse(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print_json({"error": message})
    fail(escape(message))
    return EXIT_INPUT


def import_command(args: argparse.Namespace) -> int:
    """``import payments FILE`` (called from cli/importing.py)."""
    from kortfaktura.payments import services

    path = Path(args.file)
    try:
        result = services.import_payments(path)
    except services.PaymentError as error:
        return _refuse(args, f"{error}\nIngenting lästes in.")
    if args.json:
        print_json(result.as_json())
        return 0
    format_name = {"bgmax": "BgMax (Bankgirot)", "camt.054": "camt.054 (ISO 20022)"}
    out = console.print
    if result.already_imported:
        out(
            f"{escape(result.file)} är redan inläst (betalningsfil {result.file_id}); "
            "ingenting ändrades.",
        )
        return 0
    out(
        f"[bold]Betalningar[/] från {escape(result.file)} "
        f"({format_name[result.format]}), betalningsfil {result.file_id}"
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("Nya betalningar", swedish.count(result.payments))
    table.add_row("Matchade", swedish.count(result.matched))
    table.add_row("Ej matchade", swedish.count(result.unmatched))
    table.add_row("Redan inlästa (hoppades över)", swedish.count(result.duplicates))
    table.add_row("Belopp", swedish.money(result.amount))
    out(table)
    if result.unmatched:
        out(
            "[yellow]Betalningar utan faktura väntar på en person:[/] kortfaktura payments list "
            "--status unmatched · koppla med kortfaktura payments assign ID FAKTURANUMMER "
            "--reason TEXT"
        )
    return 0


def list_command(args: argparse.Namespace) -> int:
    from kortfaktura.payments import selectors

    rows = list(selectors.payments(args.status))
    if args.json:
        print_json(selectors.payments_json(rows))
        return 0
    if not rows:
        console.print("Inga betalningar" + (f" med status {args.status}." if args.status else "."))
        return 0
    table = Table(title="Betalningar")
    for column in ("Id", "Betald", "Belopp", "Referens", "Betalare", "Status", "Faktura", "Fil"):
        table.add_column(column, justify="right" if column in ("Id", "Belopp") else "left")
    for payment in rows:
        table.add_row(
            str(payment.pk),
            payment.paid_on.isoformat(),
            swedish.money(payment.amount),
            escape(payment.reference or payment.information[:30]),
            escape(payment.payer),
            payment.get_status_display(),
            str(payment.invoice.number) if payment.invoice else "–",
            escape(payment.file.file_name),
        )
    console.print(table)
    return 0


def decide_command(args: argparse.Namespace) -> int:
    from kortfaktura.payments import selectors, services

    try:
        if args.action == "assign":
            payment = services.assign(args.payment_id, args.number, args.reason)
        else:
            payment = services.refund(args.payment_id, args.reason)
    except services.PaymentError as error:
        return _refuse(args, str(error))
    if args.json:
        print_json(selectors.payments_json([payment])[0])
    elif args.action == "assign":
        console.print(
            f"Betalning {payment.pk} ({swedish.money(payment.amount)}) är kopplad till faktura "
            f"{args.number}."
        )
    else:
        console.print(
            f"Betalning {payment.pk} ({swedish.money(payment.amount)}) är markerad för "
            "återbetalning."
        )
    return 0


def receivables_command(args: argparse.Namespace) -> int:
    from kortfaktura.payments import selectors

    report = selectors.receivables(
        at=args.at, orgnr=args.customer, overdue_only=args.overdue, every_item=args.all
    )
    if args.json:
        print_json(report.as_json())
        return 0
    out = console.print
    out(f"[bold]Kundreskontra[/] per {swedish.day(report.at)}")
    if report.items:
        table = Table()
        for column in (
            "Nummer", "Kund", "Förfaller", "Att betala", "Betalt", "Krediterat", "Öppet",
            "Status", "Dagar sen",
        ):  # fmt: skip
            table.add_column(column)
        for item in report.items:
            table.add_row(
                item["number"],
                f"{item['orgnr']} {escape(item['customer_name'])}",
                item["due_date"] or "",
                item["payable"],
                item["paid"],
                item["credited"],
                item["open"],
                selectors.STATUS_WORDS[item["status"]],
                str(item["days_overdue"] or ""),
            )
        out(table)
    else:
        out("Inga öppna poster.")
    ageing = Table(title="Åldersanalys (dagar efter förfallodag)")
    labels = {"not_due": "ej förfallet", "1-30": "1–30", "31-60": "31–60", "61-90": "61–90"}
    for key in selectors.AGEING:
        ageing.add_column(labels.get(key, key), justify="right")
    ageing.add_row(*(swedish.money(report.ageing[key]) for key in selectors.AGEING))
    out(ageing)
    out(f"Totalt öppet: {swedish.money(report.total_open)}")
    if report.credit_balance:
        out(
            f"[yellow]Tillgodo hos kunder (överbetalt):[/] {swedish.money(report.credit_balance)}"
            " – betala tillbaka eller kvitta, beslut av en person."
        )
    return 0


def remind_command(args: argparse.Namespace) -> int:
    """``remind [--dry-run] [--at DATUM] [--json]`` (R23)."""
    from kortfaktura.payments import reminders

    result = reminders.remind(args.at, dry_run=args.dry_run)
    if args.json:
        print_json(result.as_json())
        return 1 if result.failed else 0
    out = console.print
    rows = result.as_json()["reminders"]
    words = {"planned": "skulle skickas", "sent": "skickad", "failed": "misslyckades",
             "uncertain": "oviss"}  # fmt: skip
    if rows:
        table = Table(title=f"Påminnelser {result.at.isoformat()}"
                      + (" (provkörning, inget skickas)" if result.dry_run else ""))  # fmt: skip
        for column in ("Faktura", "Kund", "Öppet", "Ny förfallodag", "Kanal", "Steg", "Status"):
            table.add_column(column, justify="right" if column == "Öppet" else "left")
        for row in rows:
            table.add_row(
                str(row["number"]), row["orgnr"],
                swedish.money(Decimal(row["open"])), row["due_date"],
                {"email": "e-post", "print": "utskrift"}.get(row["channel"], row["channel"]),
                str(row["step"]), words.get(row["status"], row["status"]),
            )  # fmt: skip
        out(table)
    else:
        out(f"Ingen påminnelse är på tur {result.at.isoformat()}.")
    for number, reason in result.skipped:
        out(f"Faktura {number} påminns inte: {escape(reason)}.")
    for reminder in result.failed:
        fail(f"påminnelsen om faktura {reminder.invoice.number} skickades inte: {reminder.error}")
    for warning in result.warnings:
        out(f"[yellow]Obs:[/] {escape(warning)}.")
    return 1 if result.failed else 0


def add_parsers(subparsers: Subparsers) -> None:
    payments = subparsers.add_parser(
        "payments",
        help="inbetalningar: lista, koppla till faktura, markera för återbetalning",
        description="Inbetalningar från Bankgirot (BgMax) och banken (camt.054). Läs in dem med "
        "kortfaktura import payments FIL.",
    )
    actions = payments.add_subparsers(
        dest="action", metavar="ÅTGÄRD", parser_class=SwedishArgumentParser
    )
    actions.required = True
    listing = actions.add_parser(
        "list",
        help="betalningarna och vad de betalade",
        description="Listar inlästa betalningar med status och fakturan de betalade. Exempel: "
        "kortfaktura payments list --status unmatched",
    )
    listing.add_argument(
        "--status", choices=["matched", "unmatched", "assigned", "refund"], help=STATUS_HELP
    )
    listing.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    listing.set_defaults(handler=list_command, needs_database=True)
    assign = _decision_parser(
        actions,
        "assign",
        help="koppla en ej matchad betalning till en faktura",
        description="En person kopplar en betalning som inte kunde matchas till en utfärdad "
        "faktura; sparas i granskningsloggen. Exempel: kortfaktura payments assign 12 100007 "
        "--reason 'Betalt med fakturanummer i meddelandet'",
        reason="varför, t.ex. 'Kunden ringde: betalningen gäller faktura 100007'",
    )
    assign.add_argument(
        "number", type=positive_int_argument, metavar="FAKTURANUMMER",
        help="den utfärdade fakturan som betalades, t.ex. 100007",
    )  # fmt: skip
    _decision_parser(
        actions,
        "refund",
        help="markera en ej matchad betalning för återbetalning",
        description="En person markerar en betalning som inte hör till någon faktura för "
        "återbetalning; sparas i granskningsloggen. Exempel: kortfaktura payments refund 12 "
        "--reason 'Betalningen gällde inte oss'",
        reason="varför, t.ex. 'Dubbelbetalning, betalas tillbaka till kunden'",
    )

    receivables = subparsers.add_parser(
        "receivables",
        help="kundreskontra: öppna poster och åldersanalys",
        description="Varje utfärdad fakturas öppna belopp (att betala − betalningar − "
        "krediteringar), status, dagar efter förfallodag, saldo per kund och åldersanalys "
        "(ej förfallet, 1–30, 31–60, 61–90, 90+ dagar). Exempel: kortfaktura receivables "
        "--overdue",
    )
    receivables.add_argument(
        "--customer", metavar="ORGNR",
        help="bara en kund, alla dess dokument, t.ex. 212000-1454",
    )  # fmt: skip
    receivables.add_argument("--overdue", action="store_true", help="bara poster som är förfallna")
    receivables.add_argument(
        "--all", action="store_true", help="alla dokument, även betalda och krediterade"
    )
    receivables.add_argument(
        "--at", type=date_argument, metavar="DATUM",
        help="läget en viss dag (ÅÅÅÅ-MM-DD), t.ex. 2026-12-31; standard i dag",
    )  # fmt: skip
    receivables.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    receivables.set_defaults(handler=receivables_command, needs_database=True)

    remind = subparsers.add_parser(
        "remind",
        help="påminnelser om förfallna fakturor (R23)",
        description="En påminnelse per förfallen faktura och steg: med e-post till mottagarens "
        "adress, annars på papper (KORTFAKTURA_PRINT_DIR), med öppet belopp, samma OCR-nummer, "
        "bankgiro och en ny förfallodag. Inte för fakturor som köparen invänt mot eller som har "
        "en ändring som väntar på beslut. Körs en gång om dagen av schemat; en andra körning "
        "samma dag skickar inget nytt. Exempel: kortfaktura remind --dry-run",
    )
    remind.add_argument(
        "--dry-run", action="store_true", help="visa vilka påminnelser som skulle skickas"
    )
    remind.add_argument(
        "--at", type=date_argument, metavar="DATUM",
        help="påminnelsedagen (ÅÅÅÅ-MM-DD), t.ex. 2026-12-15; standard i dag",
    )  # fmt: skip
    remind.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    remind.set_defaults(handler=remind_command, needs_database=True)


def _decision_parser(
    actions: Any, name: str, *, help: str, description: str, reason: str
) -> argparse.ArgumentParser:
    """``payments assign|refund BETALNING … --reason TEXT [--json]``: a person's decision."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help, description=description)
    parser.add_argument(
        "payment_id", type=id_argument, metavar="BETALNING",
        help="betalningens id, t.ex. 12 (se payments list)",
    )  # fmt: skip
    parser.add_argument("--reason", required=True, metavar="TEXT", help=reason)
    parser.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    parser.set_defaults(handler=decide_command, needs_database=True)
    return parser
