"""``kortfaktura demo``: demo data and the whole story, end to end."""

import argparse
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from rich.table import Table

from kortfaktura import swedish
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing.core import HELD_BACK_LABELS, HeldBackReason
from kortfaktura.billing.models import Invoice
from kortfaktura.billing.selectors import (
    held_back_of,
    invoices_json,
    proposal_json,
    run_json,
    run_totals,
)
from kortfaktura.cli.changes import print_decision
from kortfaktura.cli.importing import print_result
from kortfaktura.cli.output import console, print_json, progress_bar
from kortfaktura.cli.parsing import Subparsers, date_argument, positive_int_argument
from kortfaktura.cli.setup import describe_database, initialize_database
from kortfaktura.demo import generator
from kortfaktura.demo.selectors import loaded_data_summary
from kortfaktura.demo.services import (
    DEMO_PASSWORD,
    DeliveryStory,
    DemoUser,
    StoryStep,
    create_demo_users,
    deliver_story,
    export_story_bookkeeping,
    export_story_documents,
    load_demo_data,
    pay_story,
    reset_database,
    run_billing_story,
)
from kortfaktura.imports.selectors import import_json
from kortfaktura.review.report import Review
from kortfaktura.review.services import make_review

DEMO_ACTOR = "demo"  # who the audit trail says made the demo's changes


def _file_progress(description: str) -> Any:
    return progress_bar(description, unit_is_bytes=True)


def _document_progress(description: str) -> Any:
    return progress_bar(description, unit_is_bytes=False)


def run(args: argparse.Namespace) -> int:
    with acting_as(DEMO_ACTOR):
        return _run_demo(args)


def _run_demo(args: argparse.Namespace) -> int:
    initialize_database()
    if args.reset:
        reset_database()
    today = args.today or timezone.localdate()
    directory = settings.DATA_DIR / "demo"
    quiet = args.json
    if not quiet:
        console.rule("[bold]Kortfaktura – demo[/]")
        console.print(
            f"Databas: {describe_database()}\n"
            f"Demofiler skrivs till {directory} (DEMODATA: påhittade organisationsnummer och "
            "demopriser enligt DOMAIN.md §6, inte GITS riktiga prislista)."
        )
    files, results = load_demo_data(
        directory,
        today,
        progress=None if quiet else _file_progress,
        orders_per_year=args.orders_per_year,
    )
    summary = loaded_data_summary()
    if not quiet:
        console.rule("1. Import av kunder, priser, beställningar och tidigare fakturerat")
        for result in results:
            print_result(result)
            console.print()
        console.rule("2. Det som nu finns i databasen")
        print_summary(summary, files.cutoff)
    steps = run_billing_story(files, today)
    exports = []
    if args.documents:
        exports = export_story_documents(
            directory / "dokument", progress=None if quiet else _document_progress
        )
    booked = export_story_bookkeeping(directory)
    delivered = deliver_story(directory, steps, today)
    paid = pay_story(directory, today)
    review, review_files = make_review(
        html=directory / "genomlysning.html", xlsx=directory / "genomlysning.xlsx"
    )
    users = create_demo_users()
    if quiet:
        print_json(
            {
                "database": describe_database(),
                "files": str(files.directory),
                "cutoff": files.cutoff,
                "imports": [import_json(result) for result in results],
                "loaded": summary,
                "story": [step_json(step) for step in steps],
                "documents": [
                    {
                        "format": export.format,
                        "out": str(export.directory),
                        "files": len(export.files),
                        "validated": export.validated,
                        "invalid": sorted(str(number) for number in export.invalid),
                        "failed": sorted(str(number) for number in export.failed),
                    }
                    for export in exports
                ],
                "bookkeeping": booked.as_json() if booked else None,
                "delivery": delivery_json(delivered),
                "payments": {
                    "file": str(paid.file),
                    **paid.imported.as_json(),
                    "open_invoices": paid.open_invoices,
                    "total_open": f"{paid.total_open:.2f}",
                },
                "review": {
                    "balanced": review.balanced,
                    "summary": review.summary(),
                    "files": [str(path) for path in review_files],
                },
                "users": [
                    {"username": user.username, "role": user.role, "password": DEMO_PASSWORD}
                    for user in users
                ],
            }
        )
        return 0 if review.balanced else 1
    for number, step in enumerate(steps, start=3):
        console.rule(f"{number}. {step.title}")
        print_step(step)
    if exports:
        console.rule(f"{len(steps) + 3}. Fakturadokument")
        for export in exports:
            check = ""
            if export.validated:
                check = " – alla klarade Peppols och EN 16931:s regler och UBL-schemat"
            elif export.validated is False:
                check = " – inte validerade: Peppol-reglerna finns inte på den här datorn"
            console.print(
                f"{swedish.count(len(export.files))} {export.format.upper()}-filer i "
                f"{export.directory}{check}."
            )
            for number, findings in export.invalid.items():
                console.print(f"[red]{number} skrevs inte:[/] {findings[0]}")
            for number, reason in export.failed.items():
                console.print(f"[red]{number} skrevs inte:[/] {reason}")
    if booked is not None:
        console.rule(f"{len(steps) + 3 + bool(exports)}. Bokföring")
        console.print(
            f"{swedish.count(booked.vouchers)} verifikationer i SIE 4 ({booked.file}), en per "
            f"utfärdat dokument; debet = kredit = {swedish.money(booked.debit)}. Interna "
            "debiteringar bokförs på interna konton med enhetens kostnadsställe.",
            markup=False,
        )
        for warning in booked.warnings:
            console.print(f"  varning: {warning}", markup=False)
    console.rule(f"{len(steps) + 3 + bool(exports) + bool(booked)}. Leverans")
    print_delivery(delivered)
    console.rule(f"{len(steps) + 4 + bool(exports) + bool(booked)}. Betalningar")
    console.print(
        f"Bankens fil {paid.file}: {swedish.count(paid.imported.payments)} betalningar, "
        f"{swedish.count(paid.imported.matched)} mot sin faktura med OCR-numret. Öppet i "
        f"kundreskontran: {swedish.money(paid.total_open)} på "
        f"{swedish.counted(paid.open_invoices, 'faktura', 'fakturor')} (var tionde obetald, var "
        "25:e betald till hälften). Se kortfaktura receivables, och kortfaktura remind --dry-run "
        "--at ett datum efter förfallodagen.",
        markup=False,
    )
    console.rule(f"{len(steps) + 5 + bool(exports) + bool(booked)}. Genomlysning")
    print_review_summary(review, review_files)
    console.rule("Klart")
    console.print(
        "Se fakturorna med: kortfaktura invoice list · en körning: kortfaktura run show RUN_ID"
        " · besluten om ändrade beställningar: kortfaktura changes list --status all"
        " · hela genomlysningen: kortfaktura review"
        " · leveranserna: kortfaktura delivery list"
    )
    print_logins(users)
    return 0 if review.balanced else 1


def print_logins(users: list[DemoUser]) -> None:
    console.rule("Webbgränssnittet")
    table = Table(title="En användare per roll, alla med lösenordet " + DEMO_PASSWORD)
    table.add_column("Användarnamn")
    table.add_column("Roll")
    table.add_column("Ser")
    for user in users:
        sees = f"bara {user.organisation}" if user.organisation else "allt som rollen får"
        table.add_row(user.username, user.role_name, sees)
    console.print(table)
    console.print(
        "Starta webbgränssnittet med [bold]kortfaktura serve[/] och öppna "
        "[bold]http://127.0.0.1:8000/[/] i en webbläsare; logga in med en av användarna ovan. "
        "API:et finns under http://127.0.0.1:8000/api/v1/ (dokumentation: /api/v1/docs)."
    )


def delivery_json(story: DeliveryStory) -> dict[str, Any]:
    return {
        "directories": {name: str(path) for name, path in story.directories.items()},
        "documents": story.documents,
        "delivered": story.delivered,
        "failed": [
            {"number": str(number), "channel": channel, "error": error}
            for number, channel, error in story.failed
        ],
        "not_delivered": story.left,
        "receipts": story.receipts.written,
        "access_point_rejected": (
            {
                "number": str(story.receipts.rejected_number),
                "code": "RE",
                "reason": story.receipts.rejected_reason,
            }
            if story.receipts.rejected_number is not None
            else None
        ),
        "inbox_waiting": story.inbox_waiting,
        "counts": [
            {"channel": channel, "status": status, "count": count}
            for (channel, status), count in story.counts.items()
        ],
        "rejected": [{"number": str(number), "error": error} for number, error in story.rejected],
    }


def print_delivery(story: DeliveryStory) -> None:
    from kortfaktura.cli.delivery import CHANNEL_WORDS, STATUS_WORDS

    folders = story.directories
    console.print(
        f"Demon levererar dokumenten från körningarna efter de två stora (de rättade och "
        f"kompletterande) och kreditfakturorna: {swedish.count(story.documents)} dokument. "
        f"Peppol till utkorgen {folders['peppol_outbox']}, e-post som filer i {folders['email']}, "
        f"utskrift som en PDF per körning i {folders['print']} – bara i demons egen process; "
        "dina inställningar ändras inte.",
        markup=False,
    )
    if story.left:
        console.print(
            f"Övriga {swedish.count(story.left)} dokument (hela historiken) levereras med "
            "kortfaktura deliver – se README, steg 10.",
            markup=False,
        )
    written = ", ".join(
        f"{label} {swedish.count(n)}" for label, n in story.receipts.written.items()
    )
    if written:
        console.print(
            f"Demon spelar accesspunkt och köpare och lägger svar i {folders['peppol_inbox']}: "
            f"{written} (MLR = Message Level Response, IR = Invoice Response).",
            markup=False,
        )
    if story.receipts.rejected_number is not None:
        console.print(
            f"Avvisad av köparen: faktura {story.receipts.rejected_number} – "
            f'"{story.receipts.rejected_reason}" (Invoice Response RE).',
            markup=False,
        )
    if story.inbox_waiting:
        console.print(
            f"{swedish.count(story.inbox_waiting)} svar väntar i inkorgen på att läsas av "
            "kortfaktura deliver.",
            markup=False,
        )
    for number, error in story.rejected:
        console.print(f"Leveransen av {number} är avvisad: {error}", markup=False)
    for number, channel, error in story.failed:
        console.print(f"[red]{number} ({CHANNEL_WORDS[channel]}) misslyckades:[/] {error}")
    table = Table(title="Leveranser per kanal och status (kortfaktura delivery list)",
                  title_justify="left")  # fmt: skip
    for column in ("Kanal", "Status", "Antal"):
        table.add_column(column)
    for (channel, status), count in story.counts.items():
        table.add_row(
            CHANNEL_WORDS.get(channel, channel),
            STATUS_WORDS.get(status, status),
            swedish.count(count),
        )
    console.print(table)


def print_review_summary(review: Review, files: list[Path]) -> None:
    """The review's one sentence and the findings the demo data was built to contain."""
    console.print(review.summary(), style="bold green" if review.balanced else "bold red")
    for label, count in sorted(review.held_back_by_reason().items()):
        console.print(f"  tillbakahållna, {label}: {swedish.count(count)}", markup=False)
    for problem in review.customer_data:
        word = "fel" if problem.severity == "error" else "varning"
        who = " ".join(part for part in (problem.orgnr, problem.account_code) if part)
        console.print(f"  kunduppgifter ({word}) {who}: {problem.problem}", markup=False)
    if review.pending_changes:
        console.print(f"  ändringar som väntar på beslut: {len(review.pending_changes)}")
    for path in files:
        console.print(f"Rapport för påskrift: {path}", markup=False)


def step_json(step: StoryStep) -> dict[str, Any]:
    data: dict[str, Any] = {"title": step.title, "explanation": step.explanation}
    if step.nothing_to_bill is not None:
        empty = step.nothing_to_bill
        data["run"] = proposal_json(empty.run, empty.proposal, status="empty")
    if step.run is not None:
        data["run"] = run_json(step.run, with_invoices=False)
        data["run"]["invoice_count"] = step.run.invoices.count()
        data["run"]["totals"] = run_totals(step.run)
    if step.credit_note is not None:
        data["credit_note"] = invoices_json([step.credit_note])[0]
    if step.import_result is not None:
        data["import"] = import_json(step.import_result)
    if step.decisions:
        data["decisions"] = [
            {
                "status": decision.status,
                "changes": decision.changes,
                "credit_notes": [str(note.number) for note in decision.credit_notes],
            }
            for decision in step.decisions
        ]
    if step.checks:
        data["checks"] = [
            {
                "legacy": check.legacy,
                "period_from": check.period_from.isoformat(),
                "period_to": check.period_to.isoformat(),
                "invoices": check.invoices,
                "orders": check.orders,
                "held_back": check.held_back,
            }
            for check in step.checks
        ]
        data["everything_billed"] = step.everything_billed
    return data


def print_step(step: StoryStep) -> None:
    console.print(step.explanation)
    if step.import_result is not None:
        print_result(step.import_result)
    if step.decisions:
        for decision in step.decisions:
            print_decision(decision)
    elif step.credit_note is not None:
        note = step.credit_note
        credited = note.credits.number if note.credits else ""
        if note.kind == Invoice.Kind.INTERNAL_CREDIT:
            console.print(
                f"Intern kreditering {note.number} krediterar den interna debiteringen "
                f"{credited} ({note.reason}): {swedish.money(note.payable)}, utan moms."
            )
        else:
            console.print(
                f"Kreditfaktura {note.number} krediterar faktura {credited} ({note.reason}): "
                f"att betala {swedish.money(note.payable)}."
            )
    if step.nothing_to_bill is not None:
        empty = step.nothing_to_bill
        console.print(
            "Inget nytt att fakturera – ingen körning sparades"
            + (
                f"; {swedish.count(len(empty.proposal.held_back))} beställningar hålls tillbaka."
                if empty.proposal.held_back
                else "."
            )
        )
    if step.checks:
        print_checks(step)
    if step.run is None:
        return
    totals = run_totals(step.run)
    console.print(
        f"Körning {step.run.pk} utfärdad: {swedish.count(totals['invoices'])} fakturor "
        f"(nr {totals['first_number']}–{totals['last_number']}), "
        f"{swedish.count(totals['orders'])} beställningar, "
        f"netto {swedish.money(totals['net'])}, "
        f"moms {swedish.money(totals['vat'])}, att betala {swedish.money(totals['payable'])}."
    )
    internal = totals["internal"]
    if internal["internal_charges"]:
        console.print(
            f"Interna debiteringar till regionens egna enheter (utan moms): "
            f"{swedish.count(internal['internal_charges'])} "
            f"(nr {internal['first_number']}–{internal['last_number']}), "
            f"{swedish.counted(internal['orders'], 'beställning', 'beställningar')}, "
            f"{swedish.money(internal['net'])}."
        )
    held = Counter(entry["reason"] for entry in held_back_of(step.run))
    if held:
        console.print(
            "Hålls tillbaka: "
            + "; ".join(
                f"{HELD_BACK_LABELS[HeldBackReason(reason)]} {swedish.count(number)}"
                for reason, number in held.most_common()
            )
        )


def print_checks(step: StoryStep) -> None:
    for check in step.checks:
        kind = "Äldre perioden" if check.legacy else "Det vanliga flödet"
        held = "; ".join(
            f"{HELD_BACK_LABELS[HeldBackReason(reason)]} {swedish.count(number)}"
            for reason, number in sorted(check.held_back.items())
        )
        console.print(
            f"{kind} {check.period_from} – {check.period_to}: "
            f"{swedish.counted(check.invoices, 'faktura', 'fakturor')} att föreslå"
            + (
                f", {swedish.counted(check.orders, 'beställning', 'beställningar')}"
                if check.orders
                else ""
            )
            + (f"; hålls tillbaka: {held}" if held else "")
            + "."
        )
    if step.everything_billed:
        console.print(
            "[bold green]Varje fakturerbar beställning är fakturerad[/] – i båda perioderna. "
            "Det som hålls tillbaka faktureras av nästa körning när orsaken är åtgärdad."
        )
    else:
        console.print("[bold red]Det finns fakturerbara beställningar som inte är fakturerade.[/]")


def print_summary(summary: dict[str, Any], cutoff: dt.date) -> None:
    customers = summary["customers"]
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(customers["by_kind"].items()))
    console.print(
        f"[bold]Kunder:[/] {customers['total']} ({kinds}), "
        f"{customers['billing_accounts']} fakturamottagare, "
        f"{customers['unit_codes']} enhetskoder kopplade till förvaltningar; "
        f"{customers['demo_orgnr']} organisationsnummer är demodata."
    )
    for account in customers["incomplete_accounts"]:
        console.print(
            f"  [yellow]Ofullständig mottagare[/] {account['account_code']} {account['name']}: "
            + "; ".join(account["problems"])
        )
    prices = Table(title="Prislista (demopriser)", title_justify="left")
    for column in ("Artikel", "Benämning", "Pris exkl. moms", "Moms", "Gäller"):
        prices.add_column(column)
    for price in summary["prices"]:
        until = price["valid_to"].isoformat() if price["valid_to"] else "tills vidare"
        prices.add_row(
            price["product_code"],
            price["product_name"],
            f"{price['unit_price']:.2f} kr".replace(".", ","),
            f"{price['vat_rate']:.0f} %",
            f"{price['valid_from'].isoformat()} – {until}",
        )
    console.print(prices)
    orders = summary["orders"]
    by_year = Table(title="Beställningar per år", title_justify="left")
    by_year.add_column("År")
    by_year.add_column("Antal", justify="right")
    for year, count in orders["by_year"].items():
        by_year.add_row(year, swedish.count(count))
    console.print(by_year)
    statuses = ", ".join(f"{label} {swedish.count(n)}" for label, n in orders["by_status"].items())
    console.print(
        f"[bold]Beställningar:[/] {swedish.count(orders['total'])} från "
        f"{orders['first_order_date']} till {orders['last_order_date']} "
        f"(till och med {cutoff.isoformat()}). Status: {statuses}."
    )
    console.print(
        f"Okänd kund: {swedish.count(orders['unknown_customer'])} beställningar (sparas och hålls "
        f"tillbaka tills kunden finns); okänd artikel: {swedish.count(orders['unknown_product'])}."
    )
    console.print(
        f"[bold]Tidigare fakturerat:[/] {swedish.count(summary['previously_invoiced'])} "
        "beställningar fakturerades av det tidigare systemet och faktureras inte igen."
    )


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="läs in demodata och visa hela förloppet",
        description=(
            "Skapar databasen om den saknas, skriver demofiler under datakatalogen och läser in "
            "dem som en användare skulle. Kan köras flera gånger: samma filer ändrar ingenting."
        ),
    )
    parser.add_argument("--reset", action="store_true", help="töm databasen först (all data!)")
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.add_argument(
        "--today",
        type=date_argument,
        metavar="DATUM",
        help="låtsas att dagens datum är DATUM, ÅÅÅÅ-MM-DD, t.ex. 2026-11-28",
    )
    parser.add_argument(
        "--no-documents",
        dest="documents",
        action="store_false",
        help="skriv inte fakturadokumenten (UBL och PDF) under var/demo/dokument",
    )
    parser.add_argument(
        "--orders-per-year",
        type=positive_int_argument,
        default=generator.ORDERS_PER_YEAR,
        metavar="ANTAL",
        help=f"antal beställningar per år, ett positivt heltal, t.ex. 400 (standard "
        f"{generator.ORDERS_PER_YEAR})",
    )
    parser.set_defaults(handler=run)
