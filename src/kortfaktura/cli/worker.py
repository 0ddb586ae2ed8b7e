"""``kortfaktura worker [--processes N] [--burst]``: runs the task engine's tasks (INTERFACES.md).

One worker is one process running django-tasks-db's worker loop with our leases and retries
(``jobs.engine``); it also ticks the monthly cycle's schedule about once a minute. ``--processes
N`` starts N such processes and waits for them; ``--burst`` ticks once, runs until no task is
due any more and exits 0 (for cron, and for tests).
"""

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
from types import FrameType

from django.utils import timezone

from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers, SwedishRawEpilogFormatter

MAX_PROCESSES = 64

EXAMPLES = """\
Exempel:
  kortfaktura worker                      en arbetare som kör tills den stoppas (Ctrl+C, SIGTERM)
  kortfaktura worker --processes 3        tre arbetare sida vid sida
  kortfaktura worker --burst              kör det som är på tur och avsluta (cron):
  * * * * *  cd /srv/kortfaktura && kortfaktura worker --burst

En arbetare som stoppas med SIGTERM gör klart den uppgift den håller på med först. En arbetare
som dör mitt i en uppgift (kill -9, strömavbrott) lämnar den åt de andra: den körs igen, eller
visas som misslyckad med sitt skäl efter KORTFAKTURA_TASK_ATTEMPTS försök (standard 3).
Arbetarna ska ha samma databas (DATABASE_URL) och datakatalog (KORTFAKTURA_DATA_DIR) som
webbservern. Se docs/operations.md, Arbetare."""


def positive_processes(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(
            f"'{text}' är inget antal processer – ange 1–{MAX_PROCESSES}, t.ex. --processes 2"
        )
    return int(text)


def run_one(*, burst: bool) -> int:
    """One worker in this process; the number of tasks it ran."""
    from kortfaktura.jobs.engine import EngineWorker

    worker = EngineWorker(burst=burst)
    worker.configure_signals()
    try:
        worker.run()
    finally:
        worker.reset_signals()
    return worker.ran


def _children(count: int, burst: bool) -> int:
    """Starts ``count`` worker processes (this command without --processes) and waits."""
    command = [sys.executable, "-m", "kortfaktura.cli.main", "worker"]
    if burst:
        command.append("--burst")
    children = [subprocess.Popen(command) for _ in range(count)]

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    codes = [child.wait() for child in children]
    failed = [code for code in codes if code not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if failed:
        fail(
            f"{len(failed)} av {count} arbetare avslutades med fel (slutkod "
            f"{', '.join(str(code) for code in failed)}) – se var/log/kortfaktura.log"
        )
        return 1
    return 0


def worker(args: argparse.Namespace) -> int:
    if args.processes > 1:
        if not args.json:
            console.print(
                f"Startar {args.processes} arbetare (process {os.getpid()}). "
                + ("De avslutar när inget mer är på tur." if args.burst else "Stoppa med Ctrl+C.")
            )
        return _children(args.processes, args.burst)
    if not args.burst and not args.json:
        console.print(
            f"Arbetaren kör (process {os.getpid()}); den tar uppgifter ur kön och kör schemat "
            "varje minut. Stoppa med Ctrl+C."
        )
    ran = run_one(burst=args.burst)
    later = _waiting_for_retry() if args.burst else []
    if args.json:
        print_json(
            {"ran": ran, "burst": args.burst,
             "waiting": [moment.isoformat() for moment in later]}
        )  # fmt: skip
    elif args.burst:
        console.print(
            f"Klart: {ran} uppgift{'er' if ran != 1 else ''} kördes; inget mer är på tur."
        )
        if later:
            # Work taken back from a dead worker, or tried again after an error: not due yet.
            console.print(
                f"{len(later)} uppgift{'er' if len(later) != 1 else ''} väntar på ett nytt "
                f"försök, den första {timezone.localtime(later[0]):%Y-%m-%d %H:%M} – kör "
                "kortfaktura worker --burst igen då (eller låt en arbetare köra)."
            )
    return 0


def _waiting_for_retry() -> list[dt.datetime]:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    now = timezone.now()
    return sorted(
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, run_after__gt=now, run_after__lt=get_date_max()
        ).values_list("run_after", flat=True)
    )


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="kör bakgrundsuppgifterna (importer, utfärdande, leveranser, schemat)",
        description="Kör uppgiftsmotorns uppgifter: det webben och API:et startar (importer, "
        "utfärdande, leveranser, exporter, genomlysningar) och månadscykelns steg, som schemat "
        "lägger i kön varje minut. kortfaktura serve startar en arbetare själv (utom med "
        "--no-worker).",
        epilog=EXAMPLES,
        formatter_class=SwedishRawEpilogFormatter,
    )
    parser.add_argument(
        "--processes",
        type=positive_processes,
        default=1,
        metavar="N",
        help="antal arbetarprocesser sida vid sida, t.ex. 2 (standard 1)",
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="kör schemat en gång och det som är på tur, och avsluta sedan med slutkod 0",
    )
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=worker, needs_database=True)
