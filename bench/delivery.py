"""Benchmark: delivering 5,000 documents (Peppol to a directory outbox, e-mail to a local SMTP
server) and reading 1,000 receipts.

    .venv/bin/python bench/delivery.py [--accounts 209] [--orders 60000] [--email-share 0.2]
                                       [--backend sqlite|postgresql|both]

For each backend, in child processes of their own on a fresh database:
- prepare: the database of bench/billing.py with ``--accounts`` billing accounts and ``--orders``
  orders over 24 months (one invoice per account and month: 209 × 24 ≈ 5,000 documents), every
  ``1/--email-share``-th account set to e-mail delivery (the others Peppol), one run drafted and
  issued. To save time it issues WITHOUT the Peppol validation
  (``KORTFAKTURA_ISSUE_WITHOUT_VALIDATION=1``, no rules directory): delivery reads the stored
  documents, so validation changes nothing it measures.
- deliver: ``services.deliver()`` of the Peppol documents to a ``file://`` outbox, then of the
  e-mailed ones to an aiosmtpd server on 127.0.0.1 that this script starts in its own process
  (not in the measured one); each channel timed, and the files and messages counted.
- receipts: 1,000 Message Level Responses (AP) for 1,000 of the delivered Peppol documents
  written into a ``file://`` inbox, and ``services.deliver()`` timed while it reads them. While the
  inbox reading (``kortfaktura.delivery.inbox``) is not in this checkout, the figure is
  ``receipts.parse_receipt`` over the 1,000 files instead, and the output says so.
Targets (issue 11): 5,000 documents delivered ≤ 60 s, 1,000 receipts read ≤ 5 s.

The PostgreSQL database is ``kortfaktura_bench_delivery``.
"""

import argparse
import datetime as dt
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from billing import FIRST_MONTH, LAST_DAY, fill
from common import free_port, peak_mb, recreate_postgres_database, run_child, setup_django

common.BENCH_DATABASE = "kortfaktura_bench_delivery"
RECEIPTS = 1000
MAIL_FROM = "gits-fakturor@vgregion.example"


def _environment(data_dir: Path, smtp_port: int) -> None:
    os.environ["KORTFAKTURA_ISSUE_WITHOUT_VALIDATION"] = "1"
    os.environ["KORTFAKTURA_PEPPOL_RULES_DIR"] = str(data_dir / "no-rules")
    os.environ["KORTFAKTURA_PEPPOL_OUTBOX"] = f"file://{data_dir / 'ut'}"
    os.environ["KORTFAKTURA_PEPPOL_INBOX"] = f"file://{data_dir / 'in'}"
    os.environ["KORTFAKTURA_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    os.environ["KORTFAKTURA_MAIL_FROM"] = MAIL_FROM
    os.environ["KORTFAKTURA_PRINT_DIR"] = str(data_dir / "utskrift")
    for folder in ("ut", "in"):
        (data_dir / folder).mkdir(parents=True, exist_ok=True)


def prepare(
    backend: str, orders: int, accounts: int, email_share: float, data_dir: Path
) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from kortfaktura.billing import services
    from kortfaktura.customers.models import BillingAccount

    started = time.perf_counter()
    fill(orders, accounts)
    every = max(1, round(1 / email_share)) if email_share > 0 else 0
    if every:
        for index, account in enumerate(BillingAccount.objects.order_by("id")):
            if index % every == 0:
                account.delivery = "email"
                account.email = f"faktura-{account.pk}@kund.example"
                account.save(update_fields=["delivery", "email"])
    draft = services.create_run(FIRST_MONTH, LAST_DAY)
    assert draft.run.pk is not None
    services.issue_run(draft.run.pk)
    return {"prepare_s": time.perf_counter() - started}


def deliver(backend: str, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from kortfaktura.billing.models import Invoice
    from kortfaktura.delivery import services
    from kortfaktura.delivery.channels import route

    by_channel: dict[str, list[int]] = {"peppol": [], "email": [], "print": []}
    for invoice in Invoice.objects.filter(status=Invoice.Status.ISSUED).order_by("number"):
        by_channel[route(invoice).channel].append(int(invoice.number or 0))
    result: dict[str, Any] = {"backend": backend}
    for channel in ("peppol", "email"):
        numbers = by_channel[channel]
        began = time.perf_counter()
        report = services.deliver(numbers=numbers) if numbers else None
        result[f"{channel}_s"] = time.perf_counter() - began
        result[f"{channel}_documents"] = len(numbers)
        result[f"{channel}_failed"] = len(report.failed) if report else 0
    result["outbox_files"] = len(list((data_dir / "ut").glob("*.xml")))
    result["deliver_s"] = result["peppol_s"] + result["email_s"]
    result["documents"] = result["peppol_documents"] + result["email_documents"]
    result["deliver_peak_mb"] = peak_mb()
    return result


def receipts(backend: str, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from django.conf import settings

    from kortfaktura.delivery import receipts as receipt_module
    from kortfaktura.delivery import services
    from kortfaktura.delivery.models import Delivery

    rows = list(Delivery.objects.filter(channel="peppol").order_by("id")[:RECEIPTS])
    inbox = data_dir / "in"
    today = dt.date.today()
    for row in rows:
        (inbox / f"mlr-{row.instance_id}.xml").write_bytes(
            receipt_module.message_level_response(
                instance_id=str(row.instance_id),
                code="AP",
                reason="",
                sender=row.recipient,
                receiver=settings.PEPPOL_SENDER,
                issue_date=today,
                response_id=f"MLR-{row.instance_id}",
            )
        )
    merged = importlib.util.find_spec("kortfaktura.delivery.inbox") is not None
    began = time.perf_counter()
    if merged:
        services.deliver()
        what = "services.deliver() läser kvittona i inkorgen"
    else:
        for path in sorted(inbox.glob("*.xml")):
            receipt_module.parse_receipt(path.read_bytes())
        what = "receipts.parse_receipt över filerna (inkorgsläsningen finns inte här ännu)"
    receipts_s = time.perf_counter() - began
    left = len(list(inbox.glob("*.xml")))
    delivered = Delivery.objects.filter(channel="peppol", status="delivered").count()
    return {
        "receipts": len(rows),
        "receipts_s": receipts_s,
        "receipts_what": what,
        "receipts_read_by_deliver": merged,
        "inbox_left": left,
        "peppol_delivered_status": delivered,
    }


def report(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(f"{r['backend']}: {r['documents']:,} dokument, databasen byggdes på "
              f"{r['prepare_s']:.0f} s")  # fmt: skip
        rate = r["peppol_documents"] / r["peppol_s"] if r["peppol_s"] else 0
        print(
            f"  Peppol till katalog:  {r['peppol_documents']:>6,} på {r['peppol_s']:6.1f} s "
            f"({rate:.0f}/s), {r['outbox_files']:,} filer, {r['peppol_failed']} misslyckade"
        )
        rate = r["email_documents"] / r["email_s"] if r["email_s"] else 0
        print(
            f"  E-post via SMTP:      {r['email_documents']:>6,} på {r['email_s']:6.1f} s "
            f"({rate:.1f}/s), {r['smtp_messages']:,} meddelanden togs emot, "
            f"{r['email_failed']} misslyckade"
        )
        print(
            f"  Totalt:               {r['documents']:>6,} på {r['deliver_s']:6.1f} s, "
            f"topp {r['deliver_peak_mb']:.0f} MB"
        )
        print(
            f"  Kvitton: {r['receipts']:,} på {r['receipts_s']:.2f} s – {r['receipts_what']}; "
            f"kvar i inkorgen {r['inbox_left']:,}, "
            f"Peppol-leveranser levererade {r['peppol_delivered_status']:,}"
        )
    print()
    print("Mål: 5 000 dokument ≤ 60 s, 1 000 kvitton ≤ 5 s")
    for r in results:
        verdicts = [("leverans", r["deliver_s"] <= 60), ("kvitton", r["receipts_s"] <= 5)]
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts)
        )


class _Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.attachments = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.attachments += envelope.content.count(b"Content-Disposition: attachment")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=60_000)
    parser.add_argument("--accounts", type=int, default=209)
    parser.add_argument("--email-share", type=float, default=0.2)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data_dir = Path(args.data_dir)
        _environment(data_dir, args.smtp_port)
        if args.phase == "prepare":
            result = prepare(args.worker, args.orders, args.accounts, args.email_share, data_dir)
        elif args.phase == "deliver":
            result = deliver(args.worker, data_dir)
        else:
            result = receipts(args.worker, data_dir)
        print(json.dumps(result))
        return
    from aiosmtpd.controller import Controller

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    mailbox = _Counter()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()  # in this process: the measured child only talks to it
    try:
        with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-delivery-") as temp:
            for backend in backends:
                mailbox.messages = mailbox.attachments = 0
                common_args = ["--data-dir", f"{temp}/{backend}", "--smtp-port", str(smtp.port)]
                if backend == "postgresql":
                    recreate_postgres_database()
                sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts),
                         "--email-share", str(args.email_share)]  # fmt: skip
                prepared = run_child(
                    __file__, backend, [*sizes, *common_args, "--phase", "prepare"]
                )
                delivered = run_child(__file__, backend, [*common_args, "--phase", "deliver"])
                read = run_child(__file__, backend, [*common_args, "--phase", "receipts"])
                results.append({**prepared, **delivered, **read, "smtp_messages": mailbox.messages})
    finally:
        smtp.stop()
    report(results)


if __name__ == "__main__":
    main()
