"""Benchmark: what the hash chains (R19) cost, on the 1,000,000 orders of bench/billing.py.

    .venv/bin/python bench/chain.py [--orders 1000000] [--accounts 600] [--backend both]

The first child process builds the database (orders in bulk, one run over 24 months drafted and
issued: 14,400 documents rendered and stored) and times the issue, and within it the chain
(``billing.chain.link_new``: reading the run's documents back and linking them). A second, fresh
child measures (median of 3):
- review: ``build_review()`` over everything;
- integrity: ``review.integrity.check_integrity()`` alone (both chains, every stored UBL parsed
  and compared, credits, invoiced orders against their specification);
- chain read: recomputing every document's link without comparing anything (what the upgrade
  migration does for a database that has documents already, less its UPDATE).
Set KORTFAKTURA_ISSUE_WITHOUT_VALIDATION=1 and no rules directory to skip the Peppol validation
(the chain does not depend on it). PostgreSQL uses the database ``BENCH_CHAIN_DATABASE``
(default ``kf_chain``).
"""

import os
import statistics
import time
from pathlib import Path
from typing import Any

from billing import FIRST_MONTH, LAST_DAY, fill
from common import peak_mb, run_child

DATABASE = os.environ.get("BENCH_CHAIN_DATABASE", "kf_chain")


def _setup(backend: str, data_dir: Path) -> None:
    os.environ["KORTFAKTURA_DATA_DIR"] = str(data_dir)
    if backend == "postgresql":
        os.environ["DATABASE_URL"] = (
            os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
            + f"/{DATABASE}"
        )
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    import django

    django.setup()


def _recreate(backend: str) -> None:
    if backend != "postgresql":
        return
    import psycopg

    url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")


def prepare(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    _recreate(backend)
    _setup(backend, data_dir)
    from kortfaktura.billing import chain, services
    from kortfaktura.cli.setup import initialize_database

    initialize_database()
    linking: list[float] = []
    link_new = chain.link_new

    def timed_link(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = link_new(*args, **kwargs)
        linking.append(time.perf_counter() - began)
        return result

    chain.link_new = timed_link  # type: ignore[assignment]
    started = time.perf_counter()
    fill(orders, accounts)
    draft = services.create_run(FIRST_MONTH, LAST_DAY)
    began = time.perf_counter()
    services.issue_run(draft.run.pk)
    issue_s = time.perf_counter() - began
    return {
        "prepare_s": time.perf_counter() - started,
        "documents": len(draft.proposal.invoices),
        "issue_s": issue_s,
        "link_s": sum(linking),
    }


def measure(backend: str, data_dir: Path) -> dict[str, Any]:
    _setup(backend, data_dir)
    from kortfaktura.billing import chain
    from kortfaktura.review.integrity import check_integrity
    from kortfaktura.review.selectors import build_review

    def chain_read() -> int:
        linked = 0
        for series in chain.SERIES_KINDS:
            previous = chain.GENESIS
            for numbered in chain.documents_in_order(series):
                for document in chain.read_documents([pk for pk, _, _ in numbered]):
                    previous = chain.audit_chain.link_hash(previous, document.content_hash())
                    linked += 1
        return linked

    reviews, integrity, reads = [], [], []
    review = None
    checked = None
    for _ in range(3):
        began = time.perf_counter()
        review = build_review()
        reviews.append(time.perf_counter() - began)
        began = time.perf_counter()
        checked = check_integrity()
        integrity.append(time.perf_counter() - began)
        began = time.perf_counter()
        linked = chain_read()
        reads.append(time.perf_counter() - began)
    assert review is not None and checked is not None
    return {
        "backend": backend,
        "orders": review.totals.orders,
        "balanced": review.balanced,
        "chains_ok": all(c.ok for c in checked.chains),
        "linked": linked,
        "review_s": statistics.median(reviews),
        "integrity_s": statistics.median(integrity),
        "chain_read_s": statistics.median(reads),
        "peak_mb": peak_mb(),
    }


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"{'databas':<11}{'ordrar':>10}{'dokument':>9}{'utfärda s':>10}{'varav kedja s':>14}"
        f"{'genomlysn. s':>13}{'varav kedjor s':>15}{'bara länkar s':>14}{'topp MB':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['orders']:>10,}{r['documents']:>9,}{r['issue_s']:>10.1f}"
            f"{r['link_s']:>14.2f}{r['review_s']:>13.2f}{r['integrity_s']:>15.2f}"
            f"{r['chain_read_s']:>14.2f}{r['peak_mb']:>8.0f}"
        )
        print(
            f"  går ihop: {'ja' if r['balanced'] else 'NEJ'}, kedjorna hela: "
            f"{'ja' if r['chains_ok'] else 'NEJ'}; databasen byggdes på {r['prepare_s']:.0f} s"
        )


def main() -> None:
    """As ``common.two_phase_main``, on a PostgreSQL database of its own (``prepare`` creates
    it), so that it never drops the database another benchmark is using."""
    import argparse
    import json
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="kf-chain-") as temp:
        for backend in backends:
            sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts)]
            data = ["--data-dir", f"{temp}/{backend}"]
            prepared = run_child(__file__, backend, [*sizes, *data, "--phase", "prepare"])
            measured = run_child(__file__, backend, [*data, "--phase", "measure"])
            results.append({**prepared, **measured})
    report(results)


if __name__ == "__main__":
    main()
