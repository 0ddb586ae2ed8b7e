"""What the benchmarks share: a fresh database per backend in a child process, peak memory,
medians over repeated runs."""

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
BENCH_DATABASE = "kortfaktura_bench"


def peak_mb() -> float:
    """This process's maximum resident set size, plus the largest finished child's (the helper
    process that parses large files), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def setup_django(backend: str, data_dir: Path) -> None:
    """Point Django at a fresh database of ``backend`` and create the schema."""
    os.environ["KORTFAKTURA_DATA_DIR"] = str(data_dir)
    if backend == "postgresql":
        os.environ["DATABASE_URL"] = f"{POSTGRES_URL}/{BENCH_DATABASE}"
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    # One process drafts and issues the benches' runs: dual control (R25) is a person's check,
    # not what a bench measures.
    os.environ.setdefault("KORTFAKTURA_DUAL_CONTROL", "0")
    import django

    django.setup()
    from kortfaktura.cli.setup import initialize_database

    initialize_database()


def recreate_postgres_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")


def run_worker(script: str, backend: str, arguments: list[str]) -> dict[str, Any]:
    """Runs ``script --worker BACKEND ARGUMENTS`` on a fresh database; returns its JSON line."""
    if backend == "postgresql":
        recreate_postgres_database()
    return run_child(script, backend, arguments)


def run_child(script: str, backend: str, arguments: list[str]) -> dict[str, Any]:
    """Runs ``script --worker BACKEND ARGUMENTS`` on the database as it is (a later phase of the
    same benchmark); returns its JSON line."""
    output = subprocess.run(
        [sys.executable, script, "--worker", backend, *arguments],
        check=False,
        capture_output=True,
        text=True,
    )
    if output.returncode != 0:  # what went wrong, not only that it did
        sys.stderr.write(output.stderr[-4000:])
        output.check_returncode()
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every timing (``*_s``) and memory (``*_mb``) figure; others from run 1."""
    return {
        key: statistics.median(run[key] for run in runs)
        if key.endswith(("_s", "_mb"))
        else runs[0][key]
        for key in runs[0]
    }


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server a test or bench starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def two_phase_main(
    script: str,
    description: str,
    prepare: Any,
    measure: Any,
    report: Any,
    *,
    temp_prefix: str = "kortfaktura-bench-",
) -> None:
    """The command line of a benchmark that builds the database of bench/billing.py in one child
    process (``prepare(backend, orders, accounts, data_dir)``) and measures it in a second,
    fresh one (``measure(backend, data_dir)``, so its peak memory is its own), per backend;
    ``report(results)`` prints the figures."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data_dir = Path(args.data_dir)
        if args.phase == "prepare":
            result = prepare(args.worker, args.orders, args.accounts, data_dir)
        else:
            result = measure(args.worker, data_dir)
        print(json.dumps(result))
        return
    sys.path.insert(0, str(Path(script).resolve().parents[1] / "src"))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix=temp_prefix) as temp:
        for backend in backends:
            sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts)]
            data = ["--data-dir", f"{temp}/{backend}"]
            if backend == "postgresql":
                recreate_postgres_database()
            prepared = run_child(script, backend, [*sizes, *data, "--phase", "prepare"])
            measured = run_child(script, backend, [*data, "--phase", "measure"])
            results.append({**prepared, **measured})
    report(results)
