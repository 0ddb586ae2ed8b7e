"""Benchmark: the SIE 4 export of every document issued after billing bench/billing.py's database.

    .venv/bin/python bench/sie.py [--orders 1000000] [--accounts 600] [--backend both]

For each backend: one child process builds the database of bench/billing.py (orders written in
bulk, one run over the 24 months drafted and issued: ≈ 14,400 invoices at 600 accounts) and
credits 100 of the invoices. To save time it issues WITHOUT the Peppol validation
(``KORTFAKTURA_ISSUE_WITHOUT_VALIDATION=1``, no rules directory): the export reads only the
stored documents, so validation changes nothing it measures. A second child process, started
fresh so that its peak memory is the export's own, measures:
- read: loading the documents and their lines (``issued_documents``);
- export: ``export_sie`` over the whole period – booking, writing the file atomically, saving
  the export and its audit record (median of 3);
- the file's size, vouchers and the total debit.
Targets: export ≤ 5 s, peak memory ≤ 300 MB.

The PostgreSQL database is ``kortfaktura_bench_sie`` (not the other benchmarks' one, so that two
benchmarks can run side by side).
"""

import os
import statistics
import time
from pathlib import Path
from typing import Any

import common
from billing import FIRST_MONTH, LAST_DAY, fill
from common import peak_mb, setup_django, two_phase_main

common.BENCH_DATABASE = "kortfaktura_bench_sie"
CREDITED = 100


def prepare(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    os.environ["KORTFAKTURA_ISSUE_WITHOUT_VALIDATION"] = "1"
    os.environ["KORTFAKTURA_PEPPOL_RULES_DIR"] = str(data_dir / "no-rules")
    setup_django(backend, data_dir)
    from kortfaktura.billing import services
    from kortfaktura.billing.models import Invoice

    started = time.perf_counter()
    fill(orders, accounts)
    draft = services.create_run(FIRST_MONTH, LAST_DAY)
    assert draft.run.pk is not None
    services.issue_run(draft.run.pk)
    numbers = list(
        Invoice.objects.filter(kind="invoice").order_by("number").values_list("number", flat=True)
    )
    for number in numbers[:: max(1, len(numbers) // CREDITED)][:CREDITED]:
        services.credit_invoice(number, reason="benchmark")
    return {"prepare_s": time.perf_counter() - started}


def measure(backend: str, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from django.utils import timezone

    from kortfaktura.accounting.selectors import issued_documents
    from kortfaktura.accounting.services import export_sie

    today = timezone.localdate()
    began = time.perf_counter()
    documents = issued_documents(FIRST_MONTH, today)
    read_s = time.perf_counter() - began
    lines = sum(len(document.lines) for document in documents)
    del documents
    runs = []
    result = None
    for attempt in range(3):
        began = time.perf_counter()
        result = export_sie(FIRST_MONTH, today, data_dir / f"export-{attempt}.se")
        runs.append(time.perf_counter() - began)
    assert result is not None
    assert result.debit == result.credit
    return {
        "backend": backend,
        "documents": result.vouchers,
        "lines": lines,
        "read_s": read_s,
        "export_s": statistics.median(runs),
        "file_mb": result.file.stat().st_size / 1e6,
        "debit": str(result.debit),
        "peak_mb": peak_mb(),
    }


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"{'databas':<11}{'dokument':>9}{'rader':>8}{'läsa s':>8}{'export s':>9}{'fil MB':>8}"
        f"{'topp MB':>8}  debet = kredit"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['documents']:>9,}{r['lines']:>8,}{r['read_s']:>8.2f}"
            f"{r['export_s']:>9.2f}{r['file_mb']:>8.2f}{r['peak_mb']:>8.0f}  {r['debit']}"
        )
        print(f"  databasen byggdes på {r['prepare_s']:.0f} s")
    print()
    print("Mål: export ≤ 5 s, topp ≤ 300 MB")
    for r in results:
        verdicts = [("tid", r["export_s"] <= 5), ("minne", r["peak_mb"] <= 300)]
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts)
        )


def main() -> None:
    two_phase_main(
        __file__,
        __doc__.splitlines()[0],
        prepare,
        measure,
        report,
        temp_prefix="kortfaktura-bench-sie-",
    )


if __name__ == "__main__":
    main()
