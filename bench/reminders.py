"""Benchmark: ``kortfaktura remind`` for about 5,000 overdue invoices (issue 20, R23).

    .venv/bin/python bench/reminders.py [--orders 60000] [--accounts 209] [--email-share 0.8]
                                        [--backend sqlite|postgresql|both] [--json]

For each backend, in child processes on a fresh database:
- prepare: the database of bench/delivery.py (``--orders`` orders over 24 months, ``--accounts``
  accounts: one invoice per account and month, about 5,000), issued without the Peppol
  validation; ``--email-share`` of the accounts get an e-mail address, the others get their
  reminders on paper (a PDF each in ``KORTFAKTURA_PRINT_DIR``).
- remind: ``payments.reminders.remind`` at a day when every invoice is ten days past its due date
  (nothing paid): each reminder queued, its PDF rendered and sent to an aiosmtpd server on
  127.0.0.1 that this script runs in its own process, or written to the print folder. Timed
  whole, then a second run the same day (which must send nothing).
Target (issue 20): 5,000 overdue invoices ≤ 60 s. ``--json`` prints one JSON line.

The PostgreSQL database is ``kortfaktura_bench_reminders``.
"""

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import free_port, peak_mb, recreate_postgres_database, run_child, setup_django

BENCH_DATABASE = "kortfaktura_bench_reminders"
common.BENCH_DATABASE = BENCH_DATABASE
TARGET_S = 60.0


def prepare(backend: str, orders: int, accounts: int, email_share: float, data_dir: Path) -> Any:
    import delivery

    common.BENCH_DATABASE = BENCH_DATABASE  # importing delivery named its own
    return delivery.prepare(backend, orders, accounts, 0.0, data_dir) | _addresses(email_share)


def _addresses(email_share: float) -> dict[str, Any]:
    """An e-mail address on ``email_share`` of the accounts (in tenths, spread evenly)."""
    from kortfaktura.customers.models import BillingAccount

    tenths = round(email_share * 10)
    emailed = 0
    for index, account in enumerate(BillingAccount.objects.order_by("id")):
        if index % 10 < tenths:
            account.email = f"ekonomi-{account.pk}@kund.example"
            account.save(update_fields=["email"])
            emailed += 1
    return {"accounts_with_email": emailed}


def remind(backend: str, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from django.db.models import Max

    from kortfaktura.billing.models import Invoice
    from kortfaktura.payments.reminders import remind as send

    latest = Invoice.objects.aggregate(due=Max("due_date"))["due"]
    day = latest + dt.timedelta(days=10)
    began = time.perf_counter()
    first = send(day)
    elapsed = time.perf_counter() - began
    began = time.perf_counter()
    again = send(day)
    again_s = time.perf_counter() - began
    statuses: dict[str, int] = {}
    for reminder in first.reminders:
        statuses[reminder.status] = statuses.get(reminder.status, 0) + 1
    return {
        "backend": backend,
        "overdue": Invoice.objects.filter(kind="invoice", status="issued").count(),
        "reminders": len(first.reminders),
        "statuses": statuses,
        "printed": len(list((data_dir / "utskrift").glob("paminnelse-*.pdf"))),
        "remind_s": round(elapsed, 2),
        "per_reminder_ms": round(elapsed * 1000 / max(1, len(first.reminders)), 2),
        "second_run_reminders": len(again.reminders),
        "second_run_s": round(again_s, 2),
        "peak_mb": round(peak_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=60_000)
    parser.add_argument("--accounts", type=int, default=209)
    parser.add_argument("--email-share", type=float, default=0.8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="one JSON line with every figure")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import delivery

        data_dir = Path(args.data_dir)
        delivery._environment(data_dir, args.smtp_port)
        common.BENCH_DATABASE = BENCH_DATABASE
        if args.phase == "prepare":
            result = prepare(args.worker, args.orders, args.accounts, args.email_share, data_dir)
        else:
            result = remind(args.worker, data_dir)
        print(json.dumps(result, default=str))
        return
    from aiosmtpd.controller import Controller

    from delivery import _Counter

    common.BENCH_DATABASE = BENCH_DATABASE  # importing delivery named its own
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {}
    mailbox = _Counter()  # bench/delivery.py's server: counts what it is sent
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()  # in this process: the measured child only talks to it
    try:
        with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-reminders-") as temp:
            for backend in backends:
                mailbox.messages = 0
                common_args = ["--data-dir", f"{temp}/{backend}", "--smtp-port", str(smtp.port)]
                if backend == "postgresql":
                    recreate_postgres_database()
                sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts),
                         "--email-share", str(args.email_share)]  # fmt: skip
                prepared = run_child(
                    __file__, backend, [*sizes, *common_args, "--phase", "prepare"]
                )
                figures = run_child(__file__, backend, [*common_args, "--phase", "remind"])
                figures |= {
                    "prepare_s": round(prepared["prepare_s"], 1),
                    "smtp_messages": mailbox.messages,
                    "remind_s_ratio": round(figures["remind_s"] / TARGET_S, 2),
                }
                results[backend] = figures
    finally:
        smtp.stop()
    if args.json:
        print(json.dumps({"benchmark": "reminders", "target_s": TARGET_S, "results": results}))
        return
    for backend, r in results.items():
        print(
            f"{backend}: {r['reminders']:,} påminnelser för {r['overdue']:,} förfallna fakturor "
            f"på {r['remind_s']} s ({r['per_reminder_ms']} ms styck; mål ≤ {TARGET_S:.0f} s: "
            f"{r['remind_s_ratio']:.2f} av målet); {r['smtp_messages']:,} e-post, "
            f"{r['printed']:,} utskrifter; en andra körning samma dag: "
            f"{r['second_run_reminders']} påminnelser på {r['second_run_s']} s; "
            f"toppminne {r['peak_mb']} MB"
        )


if __name__ == "__main__":
    main()
