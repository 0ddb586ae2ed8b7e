"""``kortfaktura schedule list|tick`` (INTERFACES.md; DOMAIN.md R24): the monthly cycle's steps,
when each runs next, and a tick that queues every step due at a time exactly once."""

import argparse
import datetime as dt

from django.utils import timezone
from rich.table import Table

from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers

STATUS_WORDS = {"queued": "i kö", "running": "pågår", "done": "klar", "failed": "misslyckades"}


def datetime_argument(text: str) -> dt.datetime:
    """``2026-11-04T06:30`` or ``2026-11-04 06:30`` (Swedish time), or with an offset or Z."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' är ingen tidpunkt – skriv ÅÅÅÅ-MM-DDTTT:MM, t.ex. 2026-11-04T06:30"
        ) from None
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment)
    return moment


def _when(text: str | None) -> str:
    if not text:
        return "–"
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")


def schedule_list(args: argparse.Namespace) -> int:
    from kortfaktura.cycle.schedule import schedule_list as rows_at

    rows = rows_at(args.at)
    if args.json:
        print_json(rows)
        return 0
    table = Table()
    for column in ("Steg", "Vad", "När", "Nästa", "Senast"):
        table.add_column(column)
    for row in rows:
        last = row["last"]
        table.add_row(
            row["step"],
            row["label"],
            row["when"],
            _when(row["next"]),
            f"{_when(last['slot'])} {STATUS_WORDS.get(last['status'], last['status'])}"
            if last
            else "–",
        )
    console.print(table)
    return 0


def schedule_tick(args: argparse.Namespace) -> int:
    from kortfaktura.cycle.schedule import tick

    at = args.at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=1):
        # A tick records each step's slot once: one in the future would be spent before its
        # time, and the real tick then would find it done (the month's draft never made).
        fail(
            f"{timezone.localtime(at):%Y-%m-%d %H:%M} har inte varit än – schedule tick köar "
            "det som var på tur vid en tidpunkt som har varit (eller nu, utan --at); se vad som "
            "körs då med kortfaktura schedule list --at"
        )
        return 2
    runs = tick(at)
    for run in runs:
        run.refresh_from_db()
    queued = [
        {
            "step": run.step,
            "slot": timezone.localtime(run.slot).isoformat(),
            "status": run.status,
            "result": run.result,
            "error": run.error or None,
        }
        for run in runs
    ]
    failed = [entry for entry in queued if entry["status"] == "failed"]
    if args.json:
        print_json({"at": timezone.localtime(at).isoformat(), "queued": queued})
    elif not queued:
        console.print(f"Inget steg är på tur {timezone.localtime(at):%Y-%m-%d %H:%M}.")
    else:
        for entry in queued:
            console.print(
                f"{entry['step']} ({_when(entry['slot'])}): "
                f"{STATUS_WORDS.get(entry['status'], entry['status'])}"
            )
        if any(entry["status"] == "queued" for entry in queued):
            # The tick only queues: the steps run in a worker, never in this command.
            console.print(
                "Stegen ligger i kö; en arbetare utför dem (kortfaktura worker, eller "
                "kortfaktura worker --burst för att köra dem nu och avsluta)."
            )
    for entry in failed:
        fail(f"steget {entry['step']} misslyckades: {entry['error']}")
    return 1 if failed else 0


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "schedule", help="månadscykelns steg: när de körs, och kör det som är på tur"
    )
    actions = parser.add_subparsers(dest="schedule_action", metavar="ÅTGÄRD")
    actions.required = True
    for name, handler, text in (
        ("list", schedule_list, "stegen, när de körs och när de körs nästa gång"),
        (
            "tick",
            schedule_tick,
            "lägg varje steg som är på tur vid tidpunkten i kö (en gång per steg); en "
            "arbetare (kortfaktura worker) utför dem",
        ),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--at",
            type=datetime_argument,
            metavar="TIDPUNKT",
            help="tidpunkten i svensk tid, t.ex. 2026-11-04T06:30 (standard: nu)",
        )
        action.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
        action.set_defaults(handler=handler, needs_database=True)
