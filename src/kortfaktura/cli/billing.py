"""``bill``, ``run show|issue|discard|regenerate``, ``invoice list`` and ``credit``."""

import argparse
from collections import Counter
from decimal import Decimal
from typing import Any

from rich.table import Table

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.billing import selectors, services
from kortfaktura.billing.core import HELD_BACK_LABELS, HeldBackReason, NotBillable, Proposal
from kortfaktura.billing.models import BillingRun, Grouping, Invoice
from kortfaktura.cli.documents import add_export_parser
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, date_argument, id_argument
from kortfaktura.orders.models import OrderChange

SHOWN_INVOICES = 25
SHOWN_HELD_BACK_PER_REASON = 5
NOT_BILLABLE_LABELS = {
    NotBillable.CANCELLED: "makulerade",
    NotBillable.PREVIOUSLY_INVOICED: "fakturerade av tidigare system",
    NotBillable.ALREADY_INVOICED: "redan fakturerade",
    NotBillable.CUSTOMER_NOT_SELECTED: "andra kunder än de valda",
}


def _error(args: argparse.Namespace, error: services.BillingError) -> int:
    if args.json:
        print_json({"error": str(error)})
    fail(str(error))
    return 2 if isinstance(error, services.UsageError) else 1


def _run(args: argparse.Namespace, run: BillingRun) -> int:
    if args.json:
        print_json(selectors.run_json(run))
    else:
        print_run(run)
    return 0


def bill(args: argparse.Namespace) -> int:
    try:
        result = services.create_run(
            args.period_from,
            args.period_to,
            title=args.title or "",
            legacy=args.legacy,
            grouping=args.per,
            issue_date=args.issue_date,
            customers=args.customer or (),
            created_by=current_actor(),
            preview=args.preview,
        )
    except services.BillingError as error:
        return _error(args, error)
    if args.preview or result.run.pk is None:
        status = "preview" if args.preview else "empty"
        if args.json:
            print_json(selectors.proposal_json(result.run, result.proposal, status=status))
        else:
            print_proposal(result.run, result.proposal, stored=False if args.preview else None)
        return 0
    return _run(args, result.run)


def run_command(args: argparse.Namespace) -> int:
    from kortfaktura.cli import runs

    handled = runs.handle(args)  # run list, run preview
    if handled is not None:
        return handled
    if args.run_id is None:
        fail(f"ange körningens nummer, t.ex. kortfaktura run {args.action} 3")
        return 2
    try:
        if args.action == "show":
            run = BillingRun.objects.filter(pk=args.run_id).first()
            if run is None:
                raise services.BillingError(f"körning {args.run_id} finns inte")
        elif args.action == "issue":
            run = services.issue_run(args.run_id, args.issue_date)
        elif args.action == "discard":
            run = services.discard_run(args.run_id)
        else:
            run = services.regenerate_run(args.run_id).run
    except services.BillingError as error:
        return _error(args, error)
    return _run(args, run)


def invoice_list(args: argparse.Namespace) -> int:
    documents = selectors.issued_documents(args.run)
    if args.json:
        from kortfaktura.payments.selectors import with_payment_fields

        print_json(with_payment_fields(selectors.invoices_json(documents), documents))
        return 0
    if not documents:
        console.print("Inga utfärdade fakturor" + (f" i körning {args.run}." if args.run else "."))
        return 0
    print_invoice_table(documents, limit=None)
    return 0


def credit(args: argparse.Namespace) -> int:
    try:
        credit_note = services.credit_invoice(
            args.number,
            order_ids=args.order or (),
            reason=args.reason,
            created_by=current_actor(),
        )
    except services.BillingError as error:
        return _error(args, error)
    document = selectors.invoices_json([credit_note])[0]
    if args.json:
        print_json(document)
        return 0
    orders = swedish.counted(len(document["order_ids"]), "beställning", "beställningar")
    if credit_note.kind == Invoice.Kind.INTERNAL_CREDIT:
        console.print(
            f"[bold]Intern kreditering {credit_note.number}[/] krediterar den interna "
            f"debiteringen {args.number}: {orders}, {swedish.money(credit_note.payable)} utan "
            f"moms. Orsak: {credit_note.reason}"
        )
    else:
        console.print(
            f"[bold]Kreditfaktura {credit_note.number}[/] krediterar faktura {args.number}: "
            f"{orders}, att betala {swedish.money(credit_note.payable)}. Orsak: "
            f"{credit_note.reason}"
        )
    console.print(
        "De krediterade beställningarna faktureras igen i nästa körning som omfattar deras "
        "beställningsmånad."
    )
    accepted = OrderChange.objects.filter(
        status=OrderChange.Status.ACCEPTED, credit_note_number=credit_note.number
    ).count()
    if accepted:
        console.print(
            f"[yellow]{swedish.counted(accepted, 'väntande ändring', 'väntande ändringar')} av "
            "de krediterade beställningarna godkändes och genomfördes med krediteringen[/] – se "
            "kortfaktura changes list --status accepted"
        )
    return 0


def _months(invoice: Invoice) -> str:
    start, end = invoice.period_start, invoice.period_end
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m} – {end:%Y-%m}"


def print_invoice_table(invoices: list[Invoice], *, limit: int | None = SHOWN_INVOICES) -> None:
    table = Table()
    for column, justify in (
        ("Nr", "right"),
        ("Typ", "left"),
        ("Mottagare", "left"),
        ("Beställt", "left"),
        ("Netto", "right"),
        ("Moms", "right"),
        ("Att betala", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    shown = invoices if limit is None else invoices[:limit]
    for invoice in shown:
        table.add_row(
            str(invoice.number) if invoice.number else "–",
            KIND_WORDS.get(Invoice.Kind(invoice.kind), invoice.kind),
            f"{invoice.account.code} {invoice.account.name}",
            _months(invoice),
            swedish.money(invoice.net, currency=False),
            swedish.money(invoice.vat, currency=False),
            swedish.money(invoice.payable, currency=False),
        )
    console.print(table)
    if limit is not None and len(invoices) > limit:
        console.print(f"… och {swedish.count(len(invoices) - limit)} fakturor till (se --json).")


KIND_WORDS = {
    Invoice.Kind.INVOICE: "faktura",
    Invoice.Kind.CREDIT_NOTE: "kredit",
    Invoice.Kind.INTERNAL_CHARGE: "intern",
    Invoice.Kind.INTERNAL_CREDIT: "intern kredit",
}


def _held_back_summary(entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print("Inga beställningar hölls tillbaka.")
        return
    reasons = Counter(entry["reason"] for entry in entries)
    console.print(f"[yellow]Hålls tillbaka: {swedish.count(len(entries))} beställningar[/]")
    for reason, number in reasons.most_common():
        label = HELD_BACK_LABELS.get(HeldBackReason(reason), reason)
        console.print(f"  {label}: {swedish.count(number)}")
        examples = [entry for entry in entries if entry["reason"] == reason]
        for entry in examples[:SHOWN_HELD_BACK_PER_REASON]:
            console.print(f"    {entry['order_id']}: {entry['detail']}")
        if len(examples) > SHOWN_HELD_BACK_PER_REASON:
            console.print(
                f"    … och {swedish.count(len(examples) - SHOWN_HELD_BACK_PER_REASON)} till"
            )


def _not_billable_text(counts: dict[str, int]) -> str:
    parts = [
        f"{NOT_BILLABLE_LABELS.get(NotBillable(reason), reason)} {swedish.count(number)}"
        for reason, number in sorted(counts.items())
        if number
    ]
    return "; ".join(parts) if parts else "inga"


def print_run(run: BillingRun) -> None:
    invoices = selectors.run_invoices(run)
    totals = selectors.run_totals(run)
    status = {"draft": "utkast", "issued": "utfärdad", "discarded": "kasserad"}[run.status]
    console.print(
        f"[bold]Körning {run.pk}[/] ({status}): {run.title}\n"
        f"Beställda {run.period_from.isoformat()} – {run.period_to.isoformat()}"
        + (" · separat fakturering av äldre period" if run.is_legacy else "")
        + f" · {dict(Grouping.choices)[run.grouping]}"
    )
    console.print(
        f"{swedish.counted(totals['invoices'], 'faktura', 'fakturor')}, "
        f"{swedish.counted(totals['orders'], 'beställning', 'beställningar')}."
    )
    _print_amounts(totals["net"], totals["vat"], totals["rounding"], totals["payable"])
    internal = totals["internal"]
    if internal["internal_charges"]:
        console.print(
            "Därtill "
            + swedish.counted(
                internal["internal_charges"], "intern debitering", "interna debiteringar"
            )
            + " "
            f"till regionens egna enheter (utan moms, egen nummerserie): "
            f"{swedish.counted(internal['orders'], 'beställning', 'beställningar')}, "
            f"{swedish.money(internal['net'])}."
        )
    if invoices:
        print_invoice_table(invoices)
    _held_back_summary(selectors.held_back_of(run))
    console.print(f"Ej fakturerbara i perioden: {_not_billable_text(run.not_billable)}.")
    if run.status == BillingRun.Status.DRAFT and (
        totals["invoices"] or internal["internal_charges"]
    ):
        console.print(
            f"Utfärda: kortfaktura run issue {run.pk} · kassera: kortfaktura run discard "
            f"{run.pk} · gör om efter rättningar: kortfaktura run regenerate {run.pk}"
        )


def print_proposal(run: BillingRun, proposal: Proposal, *, stored: bool | None) -> None:
    """A preview (``stored`` False), or a period with nothing to bill (None: no run kept)."""
    totals = [invoice.totals for invoice in proposal.invoices]
    orders = sum(len(invoice.order_pks) for invoice in proposal.invoices)
    if stored is None:
        console.print(
            f"[bold]Inget att fakturera[/] bland beställningarna "
            f"{run.period_from.isoformat()} – {run.period_to.isoformat()}: ingen körning "
            "sparades."
        )
    else:
        console.print(
            f"[bold]Förhandsgranskning[/] (ingenting sparat): {run.title}\n"
            f"{swedish.counted(len(proposal.invoices), 'faktura', 'fakturor')}, "
            f"{swedish.counted(orders, 'beställning', 'beställningar')}."
        )
        _print_amounts(
            sum((t.net for t in totals), Decimal("0")),
            sum((t.vat for t in totals), Decimal("0")),
            sum((t.rounding for t in totals), Decimal("0")),
            sum((t.payable for t in totals), Decimal("0")),
        )
    _held_back_summary(
        [
            {"order_id": entry.order_id, "reason": str(entry.reason), "detail": entry.detail}
            for entry in proposal.held_back
        ]
    )
    console.print(
        "Ej fakturerbara i perioden: "
        + _not_billable_text({str(k): v for k, v in proposal.not_billable.items()})
        + "."
    )


def _print_amounts(net: Decimal, vat: Decimal, rounding: Decimal, payable: Decimal) -> None:
    """Net + VAT + öresavrundning = payable, each shown (R10)."""
    console.print(
        f"Netto {swedish.money(net)} + moms {swedish.money(vat)} + öresavrundning "
        f"{swedish.money(rounding)} = att betala {swedish.money(payable)}."
    )


def add_parsers(subparsers: Subparsers) -> None:
    bill_parser = subparsers.add_parser(
        "bill",
        help="skapa en faktureringskörning (utkast) för en period",
        description=(
            "Föreslår fakturor för alla fakturerbara, ännu inte fakturerade beställningar med "
            "beställningsdatum i perioden, en per fakturamottagare och beställningsmånad."
        ),
    )
    bill_parser.add_argument(
        "--from",
        dest="period_from",
        type=date_argument,
        required=True,
        metavar="DATUM",
        help="ÅÅÅÅ-MM-DD, första beställningsdagen som ingår, t.ex. 2026-10-01",
    )
    bill_parser.add_argument(
        "--to",
        dest="period_to",
        type=date_argument,
        required=True,
        metavar="DATUM",
        help="ÅÅÅÅ-MM-DD, sista beställningsdagen som ingår, t.ex. 2026-10-31 (högst sista dagen "
        "i förra månaden)",
    )
    bill_parser.add_argument(
        "--title",
        metavar="TEXT",
        help='fakturornas rubrik, t.ex. "eTjänstekort oktober 2026" (standard: perioden)',
    )
    bill_parser.add_argument(
        "--legacy",
        action="store_true",
        help="separat fakturering av den äldre perioden, t.ex. 2019-01-01 – 2020-02-28 (R7)",
    )
    bill_parser.add_argument(
        "--per",
        choices=[choice.value for choice in Grouping],
        default=Grouping.MONTH.value,
        help="month: en faktura per mottagare och beställningsmånad (standard); run: en faktura "
        "per mottagare med ett avsnitt per månad, t.ex. --per run",
    )
    bill_parser.add_argument(
        "--issue-date",
        type=date_argument,
        metavar="DATUM",
        help="fakturadatum ÅÅÅÅ-MM-DD, t.ex. 2026-11-02 (standard: dagens datum när körningen "
        "utfärdas)",
    )
    bill_parser.add_argument(
        "--customer",
        action="extend",
        nargs="+",
        metavar="ORGNR",
        help="bara dessa kunder, organisationsnummer med eller utan bindestreck, t.ex. "
        "--customer 212000-1454 212000-1355",
    )
    bill_parser.add_argument(
        "--preview", action="store_true", help="visa förslaget utan att spara något"
    )
    bill_parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    bill_parser.set_defaults(handler=bill, needs_database=True)

    run_parser = subparsers.add_parser(
        "run", help="lista, visa, förhandsgranska, utfärda, kassera eller göra om en körning"
    )
    run_parser.add_argument(
        "action",
        choices=["list", "show", "preview", "issue", "discard", "regenerate"],
        help="list: körningarna, senaste först · show: visa · preview: utkastets dokument som "
        "PDF märkta UTKAST · issue: numrera och lås fakturorna · discard: kassera utkastet · "
        "regenerate: föreslå om efter rättningar",
    )
    run_parser.add_argument(
        "run_id",
        type=id_argument,
        nargs="?",
        metavar="KÖRNING",
        help="körningens nummer (ett heltal), t.ex. 3 (inte vid list)",
    )
    run_parser.add_argument(
        "--issue-date",
        type=date_argument,
        metavar="DATUM",
        help="fakturadatum ÅÅÅÅ-MM-DD vid issue, t.ex. 2026-11-02 (standard: körningens, annars "
        "dagens datum)",
    )
    run_parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    from kortfaktura.cli import runs

    runs.add_arguments(run_parser)
    run_parser.set_defaults(handler=run_command, needs_database=True)

    invoice_parser = subparsers.add_parser("invoice", help="utfärdade fakturor och kreditfakturor")
    invoice_actions = invoice_parser.add_subparsers(dest="invoice_action", metavar="ÅTGÄRD")
    invoice_actions.required = True
    list_parser = invoice_actions.add_parser("list", help="lista utfärdade dokument")
    list_parser.add_argument(
        "--run",
        type=id_argument,
        metavar="KÖRNING",
        help="bara dokumenten från en körning, körningens nummer, t.ex. 3",
    )
    list_parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    list_parser.set_defaults(handler=invoice_list, needs_database=True)
    add_export_parser(invoice_actions)

    credit_parser = subparsers.add_parser(
        "credit", help="utfärda en kreditfaktura för en hel faktura eller valda beställningar"
    )
    credit_parser.add_argument(
        "number",
        type=id_argument,
        metavar="FAKTURANUMMER",
        help="numret på fakturan som krediteras, t.ex. 100001 (se invoice list)",
    )
    credit_parser.add_argument(
        "--order",
        action="extend",
        nargs="+",
        metavar="BESTÄLLNING",
        help="kreditera bara dessa beställningar (beställnings-id), t.ex. --order B00012345 "
        "B00012346 (standard: hela fakturan)",
    )
    credit_parser.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help='varför krediteringen görs, t.ex. "Fel enhet" (krävs)',
    )
    credit_parser.add_argument(
        "--json", action="store_true", help="maskinläsbart resultat på stdout"
    )
    credit_parser.set_defaults(handler=credit, needs_database=True)
