"""Benchmark: importing N order rows on SQLite and PostgreSQL, against a floor.

    .venv/bin/python bench/import_orders.py [--rows 1000000] [--backend sqlite|postgresql|both]

For each backend, in a child process with a fresh database:
- floor: the same CSV read with Python's csv module and bulk-inserted as raw text into a table
  without indexes or logic (``executemany`` on SQLite, ``COPY`` on PostgreSQL);
- import: ``kortfaktura import orders`` of the file (validation, order dates, customer
  resolution, upsert, quarantine), all in one transaction;
- re-import: the unchanged file again (every row compared, nothing written).
Peak memory is the worker's maximum resident set size plus that of the helper process that
parses large files (both run at once). Targets (issue 2): 1,000,000 rows in
≤ 30 s on each backend, re-import ≤ 30 s, peak ≤ 500 MB, import ≤ 3× the floor.
"""

import argparse
import csv
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import median_of, peak_mb, run_worker, setup_django

HEADER = [
    "order_id",
    "ordered_at",
    "orgnr",
    "unit_code",
    "product_code",
    "holder_name",
    "holder_hsa_id",
    "status",
    "status_at",
]
STATUSES = ["collected"] * 6 + ["produced", "ordered", "photographed", "expired", "revoked"]


def generate_orders(path: Path, rows: int, orgnrs: list[str]) -> None:
    rng = random.Random(1)
    start = dt.datetime(2019, 1, 1, 8, 0)
    span_minutes = 8 * 365 * 24 * 60
    first_names = ["Anna", "Åsa", "Per", "Örjan", "Karin", "Mohammed", "Linnéa", "Björn"]
    last_names = ["Andersson", "Öberg", "Lindström", "Åberg", "Hassan", "Sjöberg"]
    three_days = dt.timedelta(days=3)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for number in range(rows):
            moment = start + dt.timedelta(minutes=span_minutes * number // rows)
            roll = rng.random()
            if roll < 0.15:
                ordered_at = f"{moment:%Y-%m-%dT%H:%M:00}Z"
            elif roll < 0.2:
                ordered_at = f"{moment:%Y-%m-%d}"
            else:
                ordered_at = f"{moment:%Y-%m-%d %H:%M}"
            orgnr = rng.choice(orgnrs)
            status = rng.choice(STATUSES)
            writer.writerow(
                [
                    f"B{number:09d}",
                    ordered_at,
                    orgnr if number % 3 else f"{orgnr[:6]}-{orgnr[6:]}",
                    f"U{rng.randrange(40)}",
                    rng.choice(["ETK", "ETK", "ETK", "RESERV", "PUK"]),
                    f"{rng.choice(first_names)} {rng.choice(last_names)}",
                    f"SE{orgnr}-E{number:09d}",
                    status,
                    "" if status == "ordered" else f"{moment + three_days:%Y-%m-%d %H:%M}",
                ]
            )


def floor_insert(path: Path) -> float:
    """Read the rows with csv and bulk-insert them as text into a bare table."""
    from django.db import connection, transaction

    columns = ", ".join(f"{name} TEXT" for name in HEADER)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        cursor.execute(f"CREATE TABLE bench_floor ({columns})")
    started = time.perf_counter()
    with transaction.atomic(), path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                copy_sql = f"COPY bench_floor ({', '.join(HEADER)}) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in reader:
                        copy.write_row(row)
            else:
                batch: list[list[str]] = []
                placeholders = ", ".join(["%s"] * len(HEADER))
                sql = f"INSERT INTO bench_floor VALUES ({placeholders})"
                for row in reader:
                    batch.append(row)
                    if len(batch) == 5000:
                        cursor.executemany(sql, batch)
                        batch = []
                cursor.executemany(sql, batch)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_floor")
    return elapsed


def worker(backend: str, orders_file: Path, data_dir: Path) -> dict[str, object]:
    setup_django(backend, data_dir)
    from kortfaktura.demo import generator
    from kortfaktura.imports.services import import_file

    files = generator.generate(data_dir / "demo", dt.date(2019, 2, 1), orders_per_year=12)
    import_file("customers", files.customers)
    import_file("prices", files.prices)
    baseline = peak_mb()
    floor = floor_insert(orders_file)
    started = time.perf_counter()
    first = import_file("orders", orders_file)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    second = import_file("orders", orders_file)
    reimported = time.perf_counter() - started
    return {
        "backend": backend,
        "rows": first.total,
        "floor_s": floor,
        "import_s": imported,
        "reimport_s": reimported,
        "imported": first.imported,
        "unchanged_on_reimport": second.unchanged,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per backend; the median of each figure counts"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, Path(args.file), Path(args.data_dir))
        print(json.dumps(result))
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from kortfaktura.demo.generator import demo_customers

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-") as temp:
        orders_file = Path(temp) / "orders.csv"
        started = time.perf_counter()
        generate_orders(orders_file, args.rows, [c.orgnr for c in demo_customers()])
        size_mb = orders_file.stat().st_size / 1e6
        print(
            f"Genererade {args.rows:,} rader ({size_mb:.0f} MB) på "
            f"{time.perf_counter() - started:.1f} s"
        )
        results = [
            median_of(
                [
                    run_worker(
                        __file__,
                        backend,
                        [
                            "--file",
                            str(orders_file),
                            "--data-dir",
                            str(Path(temp) / f"{backend}-{n}"),
                        ],
                    )
                    for n in range(args.repeat)
                ]
            )
            for backend in backends
        ]
    report(results, args.repeat)


def report(results: list[dict[str, Any]], repeat: int) -> None:
    print(f"(median av {repeat} körningar per databas)" if repeat > 1 else "")
    print(
        f"{'databas':<11}{'rader':>10}{'golv s':>9}{'import s':>10}{'rader/s':>10}"
        f"{'× golv':>8}{'om-import s':>13}{'topp MB':>9}"
    )
    for r in results:
        rate = r["rows"] / r["import_s"]
        print(
            f"{r['backend']:<11}{r['rows']:>10,}{r['floor_s']:>9.1f}{r['import_s']:>10.1f}"
            f"{rate:>10,.0f}{r['import_s'] / r['floor_s']:>8.2f}{r['reimport_s']:>13.1f}"
            f"{r['peak_mb']:>9.0f}"
        )
    print()
    print("Mål: import ≤ 30 s, om-import ≤ 30 s, topp ≤ 500 MB, ≤ 3× golvet (vid 1 000 000 rader)")
    for r in results:
        scale = 1_000_000 / r["rows"]
        verdicts = [
            ("import", r["import_s"] * scale <= 30),
            ("om-import", r["reimport_s"] * scale <= 30),
            ("minne", r["peak_mb"] <= 500),
            ("× golv", r["import_s"] / r["floor_s"] <= 3),
        ]
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts)
        )


if __name__ == "__main__":
    main()
