"""Benchmark: the review (genomlysning) of 1,000,000 orders after drafting and issuing them.

    .venv/bin/python bench/review.py [--orders 1000000] [--accounts 600] [--backend both]

For each backend: one child process builds the database of bench/billing.py (orders written in
bulk, one run drafted and issued with every document validated and stored), plus a second run
left as a draft for the last month, some cancelled, previously invoiced and unknown-customer
orders; a second child process, started fresh so that its peak memory is the review's own,
measures:
- floor: one ``GROUP BY`` month over the orders (the least any per-month count must read);
- review: ``build_review()`` over all orders (median of 3);
- html / xlsx: rendering the reports, and the HTML's size.
Targets (issue 9): review ≤ 10 s and ≤ 5× the floor, HTML ≤ 5 MB, peak memory ≤ 1 GB.
"""

import datetime as dt
import statistics
import time
from pathlib import Path
from typing import Any

from billing import FIRST_MONTH, LAST_DAY, fill
from common import peak_mb, setup_django, two_phase_main

LAST_MONTH = LAST_DAY.replace(day=1)


def prepare(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from django.db import connection

    from kortfaktura.billing import services
    from kortfaktura.orders.models import Order, PreviouslyInvoiced

    started = time.perf_counter()
    fill(orders, accounts)
    # A few orders in every other state: cancelled, invoiced earlier, an unknown customer.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Order._meta.db_table} SET status = 'cancelled' WHERE id % 97 = 0")
        cursor.execute(
            f"UPDATE {Order._meta.db_table} SET customer_id = NULL, orgnr = '5560000001' "
            "WHERE id % 1009 = 0"
        )
    PreviouslyInvoiced.objects.bulk_create(
        PreviouslyInvoiced(order_id=order_id, invoice_number="E1")
        for order_id in Order.objects.filter(id__in=range(13, orders, 211)).values_list(
            "order_id", flat=True
        )
    )
    before_last = LAST_MONTH - dt.timedelta(days=1)
    draft = services.create_run(FIRST_MONTH, before_last)
    services.issue_run(draft.run.pk)
    services.create_run(LAST_MONTH, LAST_DAY)  # left as a draft
    return {"prepare_s": time.perf_counter() - started}


def measure(backend: str, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from django.db import connection

    from kortfaktura.review.html import HtmlReport
    from kortfaktura.review.selectors import build_review, month_of
    from kortfaktura.review.spreadsheet import XlsxReport

    def floor() -> float:
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {month_of('order_date')}, COUNT(*) FROM orders_order GROUP BY 1"
            )
            cursor.fetchall()
        return time.perf_counter() - began

    floors, reviews = [], []
    review = None
    for _ in range(3):
        floors.append(floor())
        began = time.perf_counter()
        review = build_review()
        reviews.append(time.perf_counter() - began)
    assert review is not None
    began = time.perf_counter()
    html = HtmlReport().render(review)
    html_s = time.perf_counter() - began
    began = time.perf_counter()
    xlsx = XlsxReport().render(review)
    xlsx_s = time.perf_counter() - began
    total = review.totals
    return {
        "backend": backend,
        "orders": total.orders,
        "balanced": review.balanced,
        "invoiced": total.invoiced,
        "held_back": total.held_back,
        "in_draft": total.in_draft,
        "floor_s": statistics.median(floors),
        "review_s": statistics.median(reviews),
        "html_s": html_s,
        "html_mb": len(html) / 1e6,
        "xlsx_s": xlsx_s,
        "xlsx_mb": len(xlsx) / 1e6,
        "peak_mb": peak_mb(),
    }


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"{'databas':<11}{'ordrar':>10}{'golv s':>8}{'genomlysning s':>15}{'× golv':>7}"
        f"{'html s':>7}{'html MB':>8}{'xlsx s':>7}{'topp MB':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['orders']:>10,}{r['floor_s']:>8.2f}{r['review_s']:>15.2f}"
            f"{r['review_s'] / r['floor_s']:>7.1f}{r['html_s']:>7.2f}{r['html_mb']:>8.2f}"
            f"{r['xlsx_s']:>7.2f}{r['peak_mb']:>8.0f}"
        )
        print(
            f"  fakturerade {r['invoiced']:,}, tillbakahållna {r['held_back']:,}, i utkast "
            f"{r['in_draft']:,}, går ihop: {'ja' if r['balanced'] else 'NEJ'}; "
            f"databasen byggdes på {r['prepare_s']:.0f} s"
        )
    print()
    print("Mål: genomlysning ≤ 10 s och ≤ 5× golvet, HTML ≤ 5 MB, topp ≤ 1 GB")
    for r in results:
        verdicts = [
            ("tid", r["review_s"] <= 10),
            ("× golv", r["review_s"] / r["floor_s"] <= 5),
            ("html", r["html_mb"] <= 5),
            ("minne", r["peak_mb"] <= 1024),
        ]
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts)
        )


def main() -> None:
    two_phase_main(__file__, __doc__.splitlines()[0], prepare, measure, report)


if __name__ == "__main__":
    main()
