"""Benchmark: ``schedule tick`` when nothing is due (R24; issue 19: ≤ 50 ms).

    .venv/bin/python bench/cycle.py [--backend sqlite|postgresql|both] [--ticks 300]

A worker ticks every minute, and most ticks find every step already queued for its slot. For
each backend a child process makes a fresh database, ticks once (which queues and carries out
every step due then, on an empty database), and then times ``--ticks`` ticks at the same moment
and at later moments of the same five-minute slot: each reads the schedule, asks the database
which (step, slot) pairs are recorded – one query – and queues nothing. Prints the median and
95th percentile per tick and the ratio to the target.

The PostgreSQL database is ``kortfaktura_bench_cycle``.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import recreate_postgres_database, setup_django

common.BENCH_DATABASE = "kortfaktura_bench_cycle"
TARGET_MS = 50.0


def measure(backend: str, data_dir: Path, ticks: int) -> dict[str, Any]:
    setup_django(backend, data_dir)
    import datetime as dt

    from django.utils import timezone

    from kortfaktura.cycle.schedule import tick

    start = timezone.make_aware(dt.datetime(2026, 10, 5, 6, 0))
    first = tick(start)
    times = []
    for number in range(ticks):
        moment = start + dt.timedelta(seconds=number % 290)  # within the same slots
        began = time.perf_counter()
        queued = tick(moment)
        times.append((time.perf_counter() - began) * 1000)
        assert queued == [], queued
    times.sort()
    return {
        "backend": backend,
        "first_tick_steps": len(first),
        "ticks": ticks,
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "max_ms": round(times[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, Path(args.data_dir), args.ticks)))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-cycle-") as temp:
        for backend in backends:
            if backend == "postgresql":
                recreate_postgres_database()
            output = subprocess.run(
                [sys.executable, __file__, "--worker", backend, "--ticks", str(args.ticks),
                 "--data-dir", f"{temp}/{backend}"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            result = json.loads(output.stdout.strip().splitlines()[-1])
            print(
                f"{backend}: tick with nothing due: median {result['median_ms']} ms, p95 "
                f"{result['p95_ms']} ms, max {result['max_ms']} ms over {result['ticks']} ticks "
                f"(target ≤ {TARGET_MS:.0f} ms: p95 is {result['p95_ms'] / TARGET_MS:.2f} of it)"
            )


if __name__ == "__main__":
    main()
