"""``kortfaktura deliver`` and ``delivery list``: documents to their recipients (R20)."""

import argparse
import signal
import sys
import time
from types import FrameType
from typing import Any

from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, SwedishArgumentParser, id_argument

EXIT_OK = 0
EXIT_INPUT = 1
STATUSES = ("queued", "sending", "sent", "delivered", "failed", "rejected", "uncertain")
CHANNELS = ("peppol", "email", "print")
STATUS_WORDS = {
    "queued": "i kö",
    "sending": "skickas",
    "sent": "skickad",
    "delivered": "levererad",
    "failed": "misslyckad",
    "rejected": "avvisad",
    "uncertain": "oviss",
}
CHANNEL_WORDS = {"peppol": "Peppol", "email": "e-post", "print": "utskrift"}


def add_parsers(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "deliver",
        help="lämna utfärdade dokument till mottagarna (Peppol, e-post, utskrift)",
        description="Lämnar varje utfärdat, ännu inte levererat dokument till kundens kanal "
        "enligt köparuppgifterna på dokumentet: Peppol (via utkorgen till accesspunkten), "
        "e-post eller utskrift (en samlad PDF per körning med försättsblad). Misslyckade "
        "leveranser försöks igen med allt längre mellanrum; ett fakturanummer försöks direkt. "
        "Interna debiteringar går aldrig via Peppol. Inställningarna kontrolleras innan något "
        "köas eller skickas. En oviss leverans (avbruten mitt i sändningen) skickas om med "
        "--resend eller bekräftas med --confirm NUMMER --reason TEXT. Slutkod 0 när leveransen "
        "kördes (också om något misslyckades, se failed), 1 när den inte kunde köras (t.ex. en "
        "inställning saknas eller kan inte fungera), 2 fel användning.",
    )
    parser.add_argument(
        "numbers", nargs="*", type=id_argument, metavar="FAKTURANUMMER",
        help="bara dessa dokument, t.ex. 100001 100002",
    )  # fmt: skip
    parser.add_argument(
        "--run", type=id_argument, metavar="KÖRNING",
        help="bara dokumenten i en körning, t.ex. --run 3",
    )  # fmt: skip
    parser.add_argument(
        "--resend", type=id_argument, nargs="*", action="extend", metavar="FAKTURANUMMER",
        help="skicka dokument igen på begäran (registreras i granskningsloggen), t.ex. "
        "--resend 100001 100002; --resend --run KÖRNING --status uncertain skickar om "
        "körningens ovissa leveranser",
    )  # fmt: skip
    parser.add_argument(
        "--status", choices=("uncertain",),
        help="med --resend --run: bara leveranser med denna status, --status uncertain",
    )  # fmt: skip
    parser.add_argument(
        "--channel", choices=CHANNELS,
        help="kanal för --resend: peppol, email (e-post) eller print (utskrift); standard är "
        "dokumentets egen, t.ex. --channel email",
    )  # fmt: skip
    parser.add_argument(
        "--confirm", type=id_argument, nargs="+", action="extend", metavar="FAKTURANUMMER",
        help="en person har kontrollerat att de ovissa leveranserna av dessa dokument kommit "
        "fram: de registreras som skickade, inget skickas; kräver --reason, t.ex. "
        "--confirm 100001 --reason \"kunden bekräftade per telefon\"",
    )  # fmt: skip
    parser.add_argument(
        "--reason", metavar="TEXT",
        help=(
            "med --confirm: hur det kontrollerades (sparas i granskningsloggen), "
            't.ex. "Kunden bekräftade mottagandet per telefon"'
        ),
    )  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true",
        help="visa vad som skulle skickas vart, utan att skicka något",
    )  # fmt: skip
    parser.add_argument(
        "--watch", action="store_true",
        help="fortsätt leverera tills tjänsten stoppas (SIGTERM avslutar efter pågående "
        "dokument)",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=id_argument, default=60, metavar="SEKUNDER",
        help="sekunder mellan varven med --watch, t.ex. --interval 60",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    parser.set_defaults(handler=deliver_command, needs_database=True)

    group = subparsers.add_parser(
        "delivery",
        help="leveranser av dokument",
        description="Visar leveranserna av utfärdade dokument.",
    )
    actions = group.add_subparsers(
        dest="action", metavar="ÅTGÄRD", parser_class=SwedishArgumentParser
    )
    actions.required = True
    listing = actions.add_parser(
        "list",
        help="varje leverans med kanal, status, antal försök och senaste fel",
        description="Visar varje leverans: dokument, kanal, status, antal försök och senaste "
        "fel. Status: queued (i kö), sending (skickas), sent (skickad), delivered (levererad), "
        "failed (misslyckad), rejected (avvisad), uncertain (oviss – avbröts under sändningen).",
    )
    listing.add_argument(
        "--status", choices=STATUSES,
        help="bara leveranser med denna status: queued, sending, sent, delivered, failed, "
        "rejected eller uncertain, t.ex. --status failed",
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="skriv listan som JSON")
    listing.set_defaults(handler=list_command, needs_database=True)


def _refuse(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"error": message})
    fail(message)
    return EXIT_INPUT


def _row_text(row: dict[str, Any]) -> str:
    text = (
        f"{row['number']:>10}  {CHANNEL_WORDS[row['channel']]:<9} "
        f"{STATUS_WORDS.get(row['status'], row['status']):<11} försök {row['attempts']}"
    )
    return text + (f"  – {row['error']}" if row["error"] else "")


def _selection_error(args: argparse.Namespace) -> str:
    """Why the options do not go together, or ""."""
    if args.confirm is not None:
        if (
            args.resend is not None or args.numbers or args.run is not None or args.watch
            or args.dry_run or args.channel or args.status
        ):  # fmt: skip
            return "--confirm tar fakturanummer och --reason och inget annat"
        if not (args.reason or "").strip():
            return (
                "--confirm behöver --reason TEXT som säger hur det kontrollerades, t.ex. "
                '--reason "kunden bekräftade per telefon att fakturan kommit fram"'
            )
        return ""
    if args.reason is not None:
        return "--reason gäller bara tillsammans med --confirm"
    if args.status and (args.resend is None or args.run is None):
        return "--status gäller bara tillsammans med --resend --run KÖRNING"
    if args.resend is not None:
        if args.numbers or args.watch:
            return "--resend tar fakturanummer och inget annat urval"
        if args.run is not None and args.resend:
            return "ange antingen fakturanummer efter --resend eller --run KÖRNING, inte båda"
        if args.run is not None and not args.status:
            return (
                "--resend --run skickar om en körnings ovissa leveranser: lägg till "
                "--status uncertain"
            )
        if args.run is None and not args.resend:
            return (
                "--resend behöver fakturanummer, t.ex. --resend 100001 100002, eller "
                "--run KÖRNING --status uncertain"
            )
        return ""
    if args.channel:
        return "--channel gäller bara tillsammans med --resend"
    if args.run is not None and args.numbers:
        return "ange antingen --run eller fakturanummer, inte båda"
    return ""


def deliver_command(args: argparse.Namespace) -> int:
    from kortfaktura.delivery import services

    problem = _selection_error(args)
    if problem:
        return _refuse(args, problem)
    try:
        if args.confirm is not None:
            confirmed = services.confirm(args.confirm, args.reason)
            return _confirmed(args, confirmed)
        if args.resend is not None:
            return _resend(args)
        if args.watch:
            services.check_ready()  # its settings first: exit 1 if they cannot work
            return _watch(args)
        report = services.deliver(args.run, args.numbers, dry_run=args.dry_run)
    except (services.DeliveryError, services.MissingSetting) as error:
        return _refuse(args, str(error))
    return _report(args, report)


def _resend(args: argparse.Namespace) -> int:
    from kortfaktura.delivery import services

    if args.run is not None:
        rows = services.resend_uncertain(args.run, args.channel, dry_run=args.dry_run)
    else:
        rows = services.resend_many(args.resend, args.channel, dry_run=args.dry_run)
    if args.dry_run:
        return _report(args, services.DeliveryReport(dry_run=True, planned=rows))
    if not rows:
        if not args.json:
            console.print(
                f"Körning {args.run} har inga ovissa leveranser – inget skickades om.",
                markup=False,
            )
        return _report(args, services.DeliveryReport(), quiet=not args.json)
    numbers = [row.invoice.number for row in rows if row.invoice.number is not None]
    report = services.deliver(numbers=numbers)
    new = {row.pk for row in rows}
    report.delivered = [r for r in report.delivered if r.pk in new] or report.delivered
    return _report(args, report)


def _confirmed(args: argparse.Namespace, rows: list[Any]) -> int:
    from kortfaktura.delivery.services import as_json

    if args.json:
        print_json({"delivered": [], "failed": [], "skipped": 0,
                    "confirmed": [as_json(row) for row in rows]})  # fmt: skip
        return EXIT_OK
    numbers = sorted({str(row.invoice.number) for row in rows})
    console.print(
        f"Bekräftade: {len(rows)} ovissa leveranser är nu registrerade som skickade "
        f"({', '.join(numbers)}); inget skickades. Orsaken står i granskningsloggen.",
        markup=False,
    )
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    """Deliver what is due (``deliver`` reads the inbox's receipts first), sleep, repeat.
    SIGTERM or SIGINT is checked between documents: the document being sent is finished and
    recorded, then the service exits 0. A round that meets a busy or lost database, or a
    setting that stopped working (an outbox that went away), is reported in one line and the
    service goes on after the pause: a service waits, it does not exit."""
    from django.db import DatabaseError

    from kortfaktura.delivery import services

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            try:
                # What is set up goes; a channel whose setting stopped working waits, said.
                report = services.deliver(stop=lambda: stopping, skip_unconfigured=True)
            except (services.DeliveryError, services.MissingSetting) as error:
                _round_failed(args, str(error))
            except DatabaseError as error:
                services.reset_connection()
                _round_failed(
                    args,
                    "databasen är upptagen av en annan process eller förbindelsen med den bröts"
                    if services.is_database_busy(error)
                    else "databasen vägrade en ändring",
                )
            else:
                if report.delivered or report.failed or any(report.receipts.counts().values()):
                    _report(args, report)
                    sys.stdout.flush()
                if report.unconfigured:
                    _round_failed(args, report.unconfigured_text().rstrip("."))
            deadline = time.monotonic() + args.interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _round_failed(args: argparse.Namespace, reason: str) -> None:
    """One line on stderr (and in --json, a line of its own on stdout) for a round that could
    not run; the next round comes after the interval."""
    message = f"{reason} – leveransen försöker igen om {args.interval} s"
    if args.json:
        print_json({"error": message})
    fail(message)
    sys.stdout.flush()
    sys.stderr.flush()


def _report(args: argparse.Namespace, report: Any, *, quiet: bool = False) -> int:
    from kortfaktura.delivery.services import as_json

    if report.dry_run:
        planned = [as_json(row) for row in report.planned]
        if args.json:
            print_json({"dry_run": True, "planned": planned, "delivered": [], "failed": [],
                        "skipped": report.skipped})  # fmt: skip
            return EXIT_OK
        console.print(f"Provkörning: {len(planned)} dokument skulle skickas, inget skickades.")
        for row in planned:
            console.print(f"  {row['number']} → {CHANNEL_WORDS[row['channel']]}: "
                          f"{row['recipient'].replace(chr(10), ', ')}", markup=False)  # fmt: skip
        return EXIT_OK
    delivered = [as_json(row) for row in report.delivered]
    failed = [as_json(row) for row in report.failed]
    if quiet:
        return EXIT_OK
    if args.json:
        print_json({"delivered": delivered, "failed": failed, "skipped": report.skipped,
                    "uncertain": report.uncertain,
                    "receipts": report.receipts.counts()})  # fmt: skip
        return EXIT_OK
    console.print(
        f"Skickade: {len(delivered)}, misslyckade: {len(failed)}, oförändrade: {report.skipped}.",
        markup=False,
    )
    for row in failed:
        console.print("  " + _row_text(row), markup=False)
    receipts = report.receipts.counts()
    if any(receipts.values()):
        console.print(
            f"Kvitton: {receipts['applied']} lästa, {receipts['quarantined']} i karantän, "
            f"{receipts['duplicate']} dubbletter"
            + (f", {len(receipts['errors'])} fel:" if receipts["errors"] else "."),
            markup=False,
        )
        for error in receipts["errors"]:
            console.print(f"  {error}", markup=False)
    if report.uncertain:
        console.print(
            f"{report.uncertain} leveranser är ovissa (avbrutna mitt i sändningen): se "
            "kortfaktura delivery list --status uncertain och skicka om med kortfaktura "
            "deliver --resend NUMMER om mottagaren inte fått dokumentet.",
            markup=False,
        )
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from kortfaktura.delivery import services

    rows = [services.as_json(row) for row in services.list_deliveries(args.status)]
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        console.print("Inga leveranser.")
    for row in rows:
        console.print(_row_text(row), markup=False)
    return EXIT_OK
