"""``kortfaktura review``: whether the books balance, and what needs a person (DOMAIN.md R18)."""

import argparse
from pathlib import Path

from kortfaktura import swedish
from kortfaktura.billing.changes import FIELD_LABELS
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, date_argument
from kortfaktura.review.report import STATES, ExpectedHead, HeadFormatError, Review

SHOWN = 20
# Column heads narrow enough for an 80-column terminal; the HTML report has the long ones.
SHORT_LABELS = {
    "invoiced": "Fakt.",
    "previously_invoiced": "Tidigare",
    "not_billable": "Ej fakt.bar",
    "in_draft": "Utkast",
    "held_back": "Tillbaka",
    "unbilled": "Ej fakt.",
}


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "review",
        help="genomlysning: stämmer faktureringen, och vad behöver åtgärdas",
        description="Visar per beställningsmånad hur många beställningar som tagits emot och i "
        "vilket tillstånd var och en är (fakturerad, tidigare fakturerad, ej fakturerbar, i "
        "utkast, tillbakahållen, ej fakturerad än), det fakturerade beloppet, och sedan "
        "problem i kunduppgifterna, ändringar som väntar på beslut, luckor i numreringen och "
        "dokument som inte stämmer. Slutkod 1 när genomlysningen inte går ihop.",
    )
    parser.add_argument(
        "--from", dest="period_from", type=date_argument, metavar="DATUM",
        help="första beställningsdag (ÅÅÅÅ-MM-DD), t.ex. 2026-10-01; utan: från början",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="period_to", type=date_argument, metavar="DATUM",
        help="sista beställningsdag (ÅÅÅÅ-MM-DD), t.ex. 2026-10-31; utan: till sista beställningen",
    )  # fmt: skip
    parser.add_argument(
        "--html", type=Path, metavar="FIL",
        help="skriv rapporten för påskrift som en fristående HTML-fil (A4, utskrivbar), "
        "t.ex. var/ut/genomlysning.html",
    )  # fmt: skip
    parser.add_argument(
        "--xlsx", type=Path, metavar="FIL",
        help="skriv tabellerna och alla tillbakahållna och ej fakturerade beställningar som "
        "Excel, t.ex. var/ut/genomlysning.xlsx",
    )  # fmt: skip
    parser.add_argument(
        "--expect-head", dest="expected_heads", type=expected_head, action="extend", nargs="+",
        metavar="NUMMER:KONTROLLSUMMA",
        help="ett kedjehuvud som kopierats ut tidigare (ur en SIE-fil, en "
        "genomlysningsrapport eller nattens meddelande): dokumentet med det numret ska finnas "
        "och ha den länken, annars har kedjan skrivits om eller rullats tillbaka (slutkod 1); "
        "audit:ID:KONTROLLSUMMA för granskningsloggen; flera går bra, t.ex. "
        "--expect-head 104863:3f9a0c… audit:5120:9be17d…",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    parser.set_defaults(handler=review_command, needs_database=True)


def expected_head(text: str) -> ExpectedHead:
    try:
        return ExpectedHead.parse(text)
    except HeadFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def review_command(args: argparse.Namespace) -> int:
    from kortfaktura.review import services

    if args.period_from and args.period_to and args.period_from > args.period_to:
        message = (
            f"--from {args.period_from.isoformat()} är efter --to {args.period_to.isoformat()} – "
            "byt plats på datumen"
        )
        if args.json:
            print_json({"error": message})
        fail(message)
        return 2
    try:
        with console.status("Genomlysningen räknar …") if not args.json else _nothing():
            review, written = services.make_review(
                args.period_from,
                args.period_to,
                html=args.html,
                xlsx=args.xlsx,
                expected_heads=args.expected_heads,
            )
    except services.ReportError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    if args.json:
        print_json(review.as_json())
    else:
        print_review(review)
        for path in written:
            console.print(f"Skrev {path}", markup=False)
    return 0 if review.balanced else 1


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _period_text(review: Review) -> str:
    if review.period_from is None and review.period_to is None:
        return "alla beställningar"
    start = review.period_from.isoformat() if review.period_from else "början"
    end = review.period_to.isoformat() if review.period_to else "sista beställningen"
    return f"beställda {start} – {end}"


def print_review(review: Review) -> None:
    out = console.print
    out(f"[bold]Genomlysning[/] – {_period_text(review)}")
    style = "bold green" if review.balanced else "bold red"
    out(review.summary(), style=style, markup=False)
    if review.control_note():
        out(review.control_note(), style="yellow", markup=False)
    if review.months:
        out("\n[bold]Beställningar per beställningsmånad[/]")
        heads = ["Månad", "Beställda", *(SHORT_LABELS[state] for state in STATES)]
        heads += ["Netto, kr", "OK"]
        widths = [7, 9, *(max(7, len(SHORT_LABELS[state])) for state in STATES), 14, 3]
        rows = [heads]
        for month in [*review.months, review.totals]:
            rows.append(
                [
                    month.month,
                    swedish.count(month.orders),
                    *(swedish.count(getattr(month, state)) for state in STATES),
                    swedish.money(month.invoiced_net, currency=False),
                    "ja" if month.balanced else "NEJ",
                ]
            )
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [
                cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)
            ]
            cells.append(row[-1])
            bad = row[-1] == "NEJ"
            out("  ".join(cells), markup=False, soft_wrap=True, style="bold red" if bad else None)
    else:
        out("Inga beställningar i perioden.")
    _discrepancies(review)
    _held_back(review)
    if review.unbilled:
        out(
            f"\n[bold]Ej fakturerade än[/]: "
            f"{swedish.counted(len(review.unbilled), 'beställning', 'beställningar')} kan "
            "faktureras av nästa körning som täcker sin månad."
        )
    _pending_changes(review)
    _customer_data(review)
    if review.gaps:
        out(f"\n[bold red]Luckor i numreringen[/]: {', '.join(map(str, review.gaps[:50]))}")
    if review.invalid_documents:
        out(f"\n[bold red]Dokument som inte stämmer[/] ({len(review.invalid_documents)}):")
        for document in review.invalid_documents[:SHOWN]:
            out(f"  {document.number}: {document.problem}", markup=False)
    _bookkeeping(review)
    _chains(review)
    out(f"\nKontrollsumma för underlaget: {review.checksum}", markup=False)


def _chains(review: Review) -> None:
    """The chains' heads (R19): keep them outside the system and check later with
    --expect-head."""
    if not review.chains:
        return
    console.print("\n[bold]Kedjor[/] (spara huvudena utanför systemet; kontrollera senare med "
                  "kortfaktura review --expect-head):")  # fmt: skip
    for chain in review.chains:
        if chain.head_number is None:
            console.print(f"  {chain.label}: tom", markup=False)
            continue
        verdict = (
            "hel"
            if chain.ok
            else f"BRUTEN ({swedish.counted(len(chain.broken), 'brott', 'brott')})"
        )
        console.print(
            f"  {chain.label}: {swedish.count(chain.length)} länkar, {verdict} – huvud "
            f"{chain.expect}",
            markup=False,
            soft_wrap=True,
            style=None if chain.ok else "bold red",
        )


def _bookkeeping(review: Review) -> None:
    for export in review.exports:
        verdict = (
            f"ersatt av en senare export (nr {export.superseded_by})"
            if export.superseded_by
            else "stämmer"
            if export.matches
            else "STÄMMER INTE – dokument har utfärdats i perioden efter exporten, eller "
            "kontoplanen har ändrats; bokför skillnaden eller exportera perioden igen och läs "
            "bara in den nya filen"
        )
        console.print(
            f"\nSIE-export {export.made_at:%Y-%m-%d %H.%M} för {export.period_from} – "
            f"{export.period_to}: {swedish.count(export.vouchers)} verifikationer, debet "
            f"{swedish.money(export.debit)}; dokumenten nu: {swedish.count(export.documents_now)}, "
            f"{swedish.money(export.debit_now)} – {verdict}",
            markup=False,
        )
    if review.unbooked_documents:
        console.print(
            "\n"
            + swedish.counted(
                len(review.unbooked_documents), "utfärdat dokument", "utfärdade dokument"
            )
            + " ingår ännu inte i någon SIE-export (kortfaktura export sie)."
        )


def _discrepancies(review: Review) -> None:
    if not review.discrepancies:
        return
    console.print(f"\n[bold red]Avvikelser[/] ({len(review.discrepancies)}):")
    for found in review.discrepancies[:50]:
        where = " ".join(
            part
            for part in (
                found.month,
                f"beställning {found.order_id}" if found.order_id else "",
                f"dokument {found.number}" if found.number and not found.order_id else "",
            )
            if part
        )
        # A break in the audit trail's chain concerns no month, order or document.
        console.print(f"  {where or 'granskningsloggen'}: {found.problem}", markup=False)


def _held_back(review: Review) -> None:
    if not review.held_back:
        return
    console.print(
        f"\n[bold]Tillbakahållna beställningar[/]: {swedish.count(len(review.held_back))}"
    )
    for label, count in sorted(review.held_back_by_reason().items(), key=lambda kv: -kv[1]):
        console.print(f"  {label}: {swedish.count(count)}", markup=False)
    for finding in review.held_back[:SHOWN]:
        console.print(
            f"  {finding.order_id} ({finding.order_date.isoformat()}): {finding.action}",
            markup=False,
        )
    if len(review.held_back) > SHOWN:
        console.print(
            f"  … och {len(review.held_back) - SHOWN} till (alla finns i --xlsx och --json)"
        )


def _pending_changes(review: Review) -> None:
    if not review.pending_changes:
        return
    console.print(
        f"\n[bold]Ändringar av fakturerade beställningar som väntar på beslut[/] "
        f"({len(review.pending_changes)}) – besluta med kortfaktura changes accept|reject:"
    )
    for change in review.pending_changes[:SHOWN]:
        console.print(
            f"  {change.id}: {change.order_id}, faktura {change.invoice_number or '–'} – "
            f"{FIELD_LABELS.get(change.field, change.field)} {change.old or '(tomt)'} → "
            f"{change.new or '(tomt)'}",
            markup=False,
        )


def _customer_data(review: Review) -> None:
    if not review.customer_data:
        return
    errors = sum(1 for problem in review.customer_data if problem.severity == "error")
    console.print(
        f"\n[bold]Kunduppgifter[/]: {errors} fel, "
        f"{swedish.counted(len(review.customer_data) - errors, 'varning', 'varningar')}"
    )
    for problem in review.customer_data[:50]:
        word = "FEL" if problem.severity == "error" else "varning"
        who = " ".join(part for part in (problem.orgnr, problem.account_code) if part)
        console.print(f"  {word} {who}: {problem.problem}".replace(" :", ":"), markup=False)
