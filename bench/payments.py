"""Benchmark: one BgMax file of 100,000 payments read, matched and stored; ``receivables`` over
≈ 15,000 invoices.

    .venv/bin/python bench/payments.py [--orders 100000] [--accounts 625] [--payments 100000]
                                       [--backend both] [--json]

Per backend, one child process builds the database of bench/billing.py (625 accounts × 24 months
= 15,000 invoices, issued without the Peppol validation, which changes nothing measured here);
a second, fresh one writes a BgMax file (one deposit per 1,000 payments; 90 % with a valid OCR
number, 5 % with the invoice number in the information text, 5 % unknown; one deduction in 50)
and measures:
- import: ``import payments`` in-process – reading, checking every deposit, matching, storing
  and the audit record (one run: a second run of the same file is the exactly-once no-op,
  measured as ``again``);
- receivables: ``selectors.receivables`` at today over every invoice (median of 3).
Targets: import ≤ 10 s, receivables ≤ 1 s. ``--json`` prints one JSON line.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import peak_mb, setup_django

common.BENCH_DATABASE = "kortfaktura_bench_payments"


def prepare(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    import os

    os.environ["KORTFAKTURA_ISSUE_WITHOUT_VALIDATION"] = "1"
    os.environ["KORTFAKTURA_DUAL_CONTROL"] = "0"  # one process drafts and issues
    os.environ["KORTFAKTURA_PEPPOL_RULES_DIR"] = str(data_dir / "no-rules")
    setup_django(backend, data_dir)
    from billing import FIRST_MONTH, LAST_DAY, fill
    from kortfaktura.billing import services

    started = time.perf_counter()
    fill(orders, accounts)
    draft = services.create_run(FIRST_MONTH, LAST_DAY)
    assert draft.run.pk is not None
    services.issue_run(draft.run.pk)
    return {"prepare_s": time.perf_counter() - started}


def bgmax_file(path: Path, documents: list[tuple[int, str]], count: int) -> None:
    """A tying BgMax file (kortfaktura.demo.bgmax): 90 % by OCR number, 5 % with the invoice
    number in the text, 5 % unknown; one deduction in 50."""
    import datetime as dt

    from kortfaktura.demo.bgmax import Paid, bgmax

    paid = []
    for serial in range(1, count + 1):
        number, ocr = documents[serial % len(documents)]
        kind = serial % 20
        reference, text = (ocr, "") if kind > 1 else ("", f"Faktura {number}")
        if kind == 0:
            reference, text = "", "okänd betalare"
        paid.append(
            Paid(reference, 10_000 + serial % 50_000, serial, text, deduction=serial % 50 == 0)
        )
    path.write_bytes(bgmax(paid, "123-4566", dt.date(2026, 12, 1)))


def measure(backend: str, data_dir: Path, count: int) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from kortfaktura.billing.models import Invoice
    from kortfaktura.payments import selectors, services

    documents = list(
        Invoice.objects.filter(kind="invoice", status="issued").values_list("number", "ocr")
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "bgmax.txt"
    bgmax_file(path, [(int(n), str(o)) for n, o in documents], count)
    began = time.perf_counter()
    result = services.import_payments(path)
    import_s = time.perf_counter() - began
    began = time.perf_counter()
    again = services.import_payments(path)
    again_s = time.perf_counter() - began
    assert again.already_imported and result.payments == count
    runs = []
    report = None
    for _ in range(3):
        began = time.perf_counter()
        report = selectors.receivables(every_item=True)
        runs.append(time.perf_counter() - began)
    assert report is not None
    return {
        "backend": backend,
        "invoices": len(documents),
        "payments": result.payments,
        "matched": result.matched,
        "file_mb": path.stat().st_size / 1e6,
        "import_s": import_s,
        "again_s": again_s,
        "receivables_s": statistics.median(runs),
        "items": len(report.items),
        "peak_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=625)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data_dir = Path(args.data_dir)
        if args.phase == "prepare":
            result = prepare(args.worker, args.orders, args.accounts, data_dir)
        else:
            result = measure(args.worker, data_dir, args.payments)
        print(json.dumps(result))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-payments-") as temp:
        for backend in backends:
            data = ["--data-dir", f"{temp}/{backend}"]
            sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts)]
            if backend == "postgresql":
                common.recreate_postgres_database()
            prepared = common.run_child(__file__, backend, [*sizes, *data, "--phase", "prepare"])
            measured = common.run_child(
                __file__, backend, [*data, "--payments", str(args.payments), "--phase", "measure"]
            )
            results.append({**prepared, **measured})
    for r in results:
        r["import_ratio"] = r["import_s"] / 10
        r["receivables_ratio"] = r["receivables_s"] / 1
    if args.json:
        print(json.dumps({"benchmark": "payments", "results": results}))
        return
    print(
        f"{'databas':<11}{'fakturor':>9}{'betalningar':>12}{'matchade':>9}{'import s':>9}"
        f"{'igen s':>8}{'reskontra s':>12}{'topp MB':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['invoices']:>9,}{r['payments']:>12,}{r['matched']:>9,}"
            f"{r['import_s']:>9.2f}{r['again_s']:>8.3f}{r['receivables_s']:>12.3f}"
            f"{r['peak_mb']:>8.0f}"
        )
        print(f"  databasen byggdes på {r['prepare_s']:.0f} s, filen {r['file_mb']:.1f} MB")
    print()
    print("Mål: import ≤ 10 s, reskontra ≤ 1 s (kvot = uppmätt / mål)")
    for r in results:
        print(
            f"  {r['backend']}: import {r['import_ratio']:.2f} "
            f"({'OK' if r['import_s'] <= 10 else 'MISSAT'}), reskontra "
            f"{r['receivables_ratio']:.2f} ({'OK' if r['receivables_s'] <= 1 else 'MISSAT'})"
        )


if __name__ == "__main__":
    main()
