"""Benchmark: one invoice's specification as XLSX (and PDF) with many orders.

    .venv/bin/python bench/spreadsheet.py [--orders 10000 60000] [--pdf]

Each size is rendered in a process of its own, so its peak memory is its own. The XLSX must be
linear in the number of orders (issue: a 60,000-order invoice used not to finish).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peak_mb


def render_one(orders: int, form: str) -> None:
    from documents import make_document
    from kortfaktura.documents.pdf import PdfRenderer
    from kortfaktura.documents.spreadsheet import XlsxRenderer

    document = make_document(200001, orders)
    renderer = XlsxRenderer() if form == "xlsx" else PdfRenderer()
    started = time.perf_counter()
    content = renderer.render(document)  # type: ignore[arg-type]
    print(json.dumps([time.perf_counter() - started, len(content), peak_mb()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[10_000, 60_000])
    parser.add_argument("--pdf", action="store_true", help="also the PDF")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    with tempfile.TemporaryDirectory() as temp:
        os.environ.setdefault("KORTFAKTURA_DATA_DIR", temp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
        import django

        django.setup()
        if args.one:
            render_one(int(args.one[0]), args.one[1])
            return
    for orders in args.orders:
        for form in ("xlsx", "pdf") if args.pdf else ("xlsx",):
            result = subprocess.run(
                [sys.executable, __file__, "--one", str(orders), form],
                check=True,
                capture_output=True,
                text=True,
            )
            seconds, size, peak = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{form.upper()} med {orders:,} beställningar: {seconds:.1f} s, "
                f"{size / 1e6:.1f} MB, toppminne {peak:.0f} MB (egen process)"
            )


if __name__ == "__main__":
    main()
