"""``kortfaktura changes list|accept|reject``: decide on changes to invoiced orders (R12, R14)."""

import argparse
from typing import Any

from kortfaktura import swedish
from kortfaktura.audit.actor import current_actor
from kortfaktura.billing import changes as service
from kortfaktura.billing.services import BillingError, UsageError
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, id_argument

STATUS_WORDS = {
    "pending": "väntar på beslut",
    "accepted": "godkänd",
    "rejected": "avvisad",
    "all": "",
}
HOW_TO_DECIDE = (
    "Godkänn: kortfaktura changes accept ID … --reason TEXT (beställningen krediteras på sin "
    "faktura, ändringen genomförs och nästa körning fakturerar den med de nya uppgifterna).\n"
    "Avvisa: kortfaktura changes reject ID … --reason TEXT (fakturan står kvar, beställningen "
    "behåller de uppgifter den fakturerades med).\n"
    "Ett beslut gäller alla väntande ändringar av samma beställning."
)


def _label(name: str) -> str:
    return service.FIELD_LABELS.get(name, name)


def _error(args: argparse.Namespace, error: BillingError) -> int:
    if args.json:
        print_json({"error": str(error)})
    fail(str(error))
    return 2 if isinstance(error, UsageError) else 1


def list_command(args: argparse.Namespace) -> int:
    changes = service.list_changes(args.status)
    if args.json:
        print_json(changes)
        return 0
    if not changes:
        if args.status == "pending":
            console.print("Inga ändringar av fakturerade beställningar väntar på beslut.")
        else:
            word = STATUS_WORDS[args.status]
            console.print(
                "Inga ändringar av fakturerade beställningar" + (f" är {word}." if word else ".")
            )
        return 0
    console.print(
        "[bold]Ändringar av fakturerade beställningar[/] (id: beställning, faktura – fält före → "
        "efter)"
    )
    for change in changes:
        line = (
            f"  {change['id']}: {change['order_id']}, faktura {change['invoice_number'] or '–'} – "
            f"{_label(change['field'])} {change['old'] or '(tomt)'} → {change['new'] or '(tomt)'}"
            f" [{STATUS_WORDS[change['status']]}]"
        )
        if change["status"] != "pending":
            line += f" {_decision_text(change)}"
        console.print(line, markup=False)
    pending = sum(1 for change in changes if change["status"] == "pending")
    if pending:
        console.print(
            f"{swedish.counted(pending, 'ändring', 'ändringar')} av fakturerade beställningar "
            "väntar på beslut."
        )
        console.print(HOW_TO_DECIDE)
    return 0


def _decision_text(change: dict[str, Any]) -> str:
    if change["status"] == "pending":
        return ""
    parts = [change["decided_at"][:10] if change["decided_at"] else ""]
    if change["decided_by"]:
        parts.append(change["decided_by"])
    if change["credit_note_number"]:
        parts.append(f"kreditering {change['credit_note_number']}")
    if change["reason"]:
        parts.append(change["reason"])
    return " · ".join(part for part in parts if part)


def decide_command(args: argparse.Namespace) -> int:
    decide = service.accept_changes if args.action == "accept" else service.reject_changes
    try:
        decision = decide(args.change_ids, reason=args.reason, decided_by=current_actor())
    except BillingError as error:
        return _error(args, error)
    if args.json:
        print_json(decision.as_json())
        return 0
    print_decision(decision)
    return 0


def print_decision(decision: service.Decision) -> None:
    accepted = decision.status == "accepted"
    word = "Godkända" if accepted else "Avvisade"
    console.print(f"[bold]{word} ändringar[/] (orsak: {decision.changes[0]['reason']}):")
    for change in decision.changes:
        console.print(
            f"  {change['id']}: beställning {change['order_id']} på faktura "
            f"{change['invoice_number'] or '–'}, {_label(change['field'])} "
            f"{change['old'] or '(tomt)'} → {change['new'] or '(tomt)'}",
            markup=False,
        )
    together = decision.decided_together
    if together:
        console.print(
            f"Ändring {', '.join(map(str, together))} gäller samma beställning och beslutades "
            "tillsammans med den du angav: ett beslut gäller alla väntande ändringar av en "
            "beställning."
        )
    if accepted:
        for note in decision.credit_notes:
            credited = note.credits.number if note.credits else ""
            if note.kind == "internal_credit":
                console.print(
                    f"Intern kreditering {note.number} krediterar den interna debiteringen "
                    f"{credited}: {swedish.money(note.payable)}, utan moms."
                )
            else:
                console.print(
                    f"Kreditfaktura {note.number} krediterar faktura {credited}: "
                    f"att betala {swedish.money(note.payable)}."
                )
        console.print(
            "Ändringarna är genomförda. Nästa körning som omfattar beställningarnas "
            "beställningsmånad fakturerar dem med de nya uppgifterna."
        )
    else:
        console.print(
            "Fakturorna står kvar och beställningarna behåller de uppgifter de fakturerades med. "
            "Samma ändring i en senare import frågas inte om igen."
        )


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "changes",
        help="ändringar av fakturerade beställningar som väntar på beslut",
        description=(
            "En import som ändrar kund, enhet, artikel eller beställningsdatum för en beställning "
            "som redan är fakturerad genomförs inte direkt: ändringen väntar på ett beslut. "
            + HOW_TO_DECIDE
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ÅTGÄRD")
    actions.required = True
    list_parser = actions.add_parser("list", help="lista ändringar (standard: de som väntar)")
    list_parser.add_argument(
        "--status",
        choices=["pending", "accepted", "rejected", "all"],
        default="pending",
        help="pending: väntar på beslut (standard), accepted: godkända, rejected: avvisade, "
        "all: alla",
    )
    list_parser.add_argument("--json", action="store_true", help="maskinläsbart resultat")
    list_parser.set_defaults(handler=list_command, needs_database=True)
    for action, text in (
        ("accept", "godkänn: kreditera beställningen och genomför ändringen"),
        ("reject", "avvisa: fakturan står kvar, ändringen genomförs inte"),
    ):
        decide = actions.add_parser(action, help=text, description=HOW_TO_DECIDE)
        decide.add_argument(
            "change_ids",
            nargs="+",
            type=id_argument,
            metavar="ÄNDRING",
            help="ändringarnas id ur kortfaktura changes list, ett eller flera, t.ex. 12 13",
        )
        decide.add_argument(
            "--reason",
            required=True,
            metavar="TEXT",
            help='varför beslutet fattas, t.ex. "Kortet beställdes av fel enhet" (krävs)',
        )
        decide.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
        decide.set_defaults(handler=decide_command, needs_database=True)
