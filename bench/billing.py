"""Benchmark: billing 1,000,000 orders over 24 months and 600 billing accounts.

    .venv/bin/python bench/billing.py [--orders 1000000] [--accounts 600] [--backend both]

For each backend, in a child process with a fresh database (orders written in bulk, not through
the import, which bench/import_orders.py measures):
- floor (the honest floor for exactly-once, issue 7): one INSERT … SELECT writing one row per
  order into a table with the same partial unique index as the invoice items, plus one
  INSERT … SELECT … GROUP BY that aggregates the orders per customer, unit, month and product;
- preview: the billing core over the period, nothing stored;
- draft: the same, stored as a draft run (invoices, lines and one item per order);
- issue: every order checked again, the specification snapshot, numbering, every document
  rendered as UBL and validated with the official rules (on DOCUMENT_WORKERS processes), and
  making the run final; the validation part is also shown on its own, per document;
- re-run: drafting the same period again, which finds nothing.
Targets (issue 7): draft ≤ 20 s and ≤ 3× the floor, issue ≤ 20 s plus validation at ≤ 8 ms per
document, empty re-run ≤ 3 s; peak memory ≤ 1 GB (issue 3).
"""

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import median_of, peak_mb, run_worker, setup_django

FIRST_MONTH = dt.date(2024, 11, 1)
LAST_DAY = dt.date(2026, 10, 31)
CHUNK = 20_000


def fill(orders: int, accounts: int) -> None:
    """Customers with one default account each (every third with a förvaltning account for
    unit SU), the demo price list, and ``orders`` orders spread over 24 months."""
    from stdnum import luhn

    from kortfaktura.catalog.models import Price, Product
    from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
    from kortfaktura.imports import bulk
    from kortfaktura.orders.models import Order

    customers_count = accounts * 3 // 4
    customers = Customer.objects.bulk_create(
        Customer(orgnr=f"212{n:06d}" + luhn.calc_check_digit(f"212{n:06d}"), name=f"Kund {n}")
        for n in range(customers_count)
    )
    address = {"street": "Box 1", "postal_code": "405 44", "city": "Göteborg"}
    made = BillingAccount.objects.bulk_create(
        BillingAccount(customer=c, code=f"A{c.pk}", name=c.name, is_default=True,
                       buyer_reference="REF", peppol_scheme="0007", peppol_id=c.orgnr, **address)
        for c in customers
    )  # fmt: skip
    extra = BillingAccount.objects.bulk_create(
        BillingAccount(customer=c, code=f"A{c.pk}-SU", name=c.name, is_default=False,
                       buyer_reference="REF", peppol_scheme="0007", peppol_id=c.orgnr, **address)
        for c in customers[: accounts - len(made)]
    )  # fmt: skip
    UnitCode.objects.bulk_create(
        UnitCode(customer_id=a.customer_id, account=a, code="SU") for a in extra
    )
    products = []
    for code, amount in (("ETK", "350"), ("RESERV", "200"), ("PUK", "150")):
        product = Product.objects.create(code=code, name=code)
        Price.objects.create(product=product, valid_from=dt.date(2019, 1, 1), unit_price=amount)
        products.append(product)
    rng = random.Random(7)
    span = (LAST_DAY - FIRST_MONTH).days + 1
    rows: list[tuple[Any, ...]] = []
    for number in range(orders):
        customer = customers[rng.randrange(customers_count)]
        product = products[rng.choice((0, 0, 0, 0, 1, 2))]
        day = FIRST_MONTH + dt.timedelta(days=number * span // orders)
        rows.append(
            (f"B{number:09d}", day.isoformat(), day.isoformat(), customer.orgnr,
             rng.choice(("SU", "HSL", "")), product.code, customer.pk, product.pk, "Anna Test",
             "", "collected", "")
        )  # fmt: skip
        if len(rows) == CHUNK:
            bulk.insert_rows(Order._meta.db_table, ORDER_COLUMNS, rows)
            rows = []
    bulk.insert_rows(Order._meta.db_table, ORDER_COLUMNS, rows)


ORDER_COLUMNS = (
    "order_id", "ordered_at", "order_date", "orgnr", "unit_code", "product_code", "customer_id",
    "product_id", "holder_name", "holder_hsa_id", "status", "status_at",
)  # fmt: skip


def floor() -> float:
    from django.db import connection, transaction

    month = (
        "to_char(order_date, 'YYYY-MM')"
        if connection.vendor == "postgresql"
        else "strftime('%Y-%m', order_date)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_floor (customer_id bigint, unit_code text, month text, "
            "product_id bigint, quantity bigint)"
        )
        cursor.execute(
            "CREATE TABLE bench_items (order_id bigint NOT NULL, customer_id bigint, "
            "product_id bigint, is_credit boolean NOT NULL, credited boolean NOT NULL)"
        )
        cursor.execute(
            "CREATE UNIQUE INDEX bench_items_once ON bench_items (order_id) "
            "WHERE NOT credited AND NOT is_credit"
        )
    false = "false" if connection.vendor == "postgresql" else "0"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO bench_items SELECT id, customer_id, product_id, {false}, {false} "
            "FROM orders_order WHERE order_date BETWEEN %s AND %s",
            [FIRST_MONTH, LAST_DAY],
        )
        cursor.execute(
            f"INSERT INTO bench_floor SELECT customer_id, unit_code, {month}, product_id, "
            f"COUNT(*) FROM orders_order WHERE order_date BETWEEN %s AND %s "
            f"GROUP BY customer_id, unit_code, {month}, product_id",
            [FIRST_MONTH, LAST_DAY],
        )
    return time.perf_counter() - started


def worker(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    setup_django(backend, data_dir)
    from kortfaktura.billing import issuing, services

    validation: list[float] = []
    check_documents = issuing.check_documents

    def timed_check(invoices: Any) -> Any:
        began = time.perf_counter()
        verdicts = check_documents(invoices)
        validation.append(time.perf_counter() - began)
        return verdicts

    issuing.check_documents = timed_check  # type: ignore[assignment]

    started = time.perf_counter()
    fill(orders, accounts)
    filled = time.perf_counter() - started
    floor_s = floor()

    def timed(action: Any) -> tuple[float, Any]:
        began = time.perf_counter()
        value = action()
        return time.perf_counter() - began, value

    preview_s, _ = timed(lambda: services.create_run(FIRST_MONTH, LAST_DAY, preview=True))
    draft_s, draft = timed(lambda: services.create_run(FIRST_MONTH, LAST_DAY))
    issue_s, _ = timed(lambda: services.issue_run(draft.run.pk))
    rerun_s, rerun = timed(lambda: services.create_run(FIRST_MONTH, LAST_DAY))
    return {
        "backend": backend,
        "orders": orders,
        "invoices": len(draft.proposal.invoices),
        "billed": sum(len(invoice.order_pks) for invoice in draft.proposal.invoices),
        "rerun_invoices": len(rerun.proposal.invoices),
        "fill_s": filled,
        "floor_s": floor_s,
        "preview_s": preview_s,
        "draft_s": draft_s,
        "issue_s": issue_s,
        "validation_s": sum(validation),
        "validation_ms_per_document": 1000 * sum(validation) / len(draft.proposal.invoices),
        "rerun_s": rerun_s,
        "peak_mb": peak_mb(),
    }


def report(results: list[dict[str, Any]], repeat: int) -> None:
    print(f"(median av {repeat} körningar per databas)" if repeat > 1 else "")
    print(
        f"{'databas':<11}{'ordrar':>10}{'fakturor':>9}{'golv s':>8}{'förhandsv s':>12}"
        f"{'utkast s':>9}{'× golv':>7}{'utfärda s':>10}{'varav val. s':>13}{'ms/dok':>7}"
        f"{'omkörn. s':>10}{'topp MB':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['orders']:>10,}{r['invoices']:>9,}{r['floor_s']:>8.1f}"
            f"{r['preview_s']:>12.1f}{r['draft_s']:>9.1f}{r['draft_s'] / r['floor_s']:>7.1f}"
            f"{r['issue_s']:>10.1f}{r['validation_s']:>13.1f}"
            f"{r['validation_ms_per_document']:>7.1f}{r['rerun_s']:>10.2f}{r['peak_mb']:>8.0f}"
        )
    print()
    print(
        "Mål: utkast ≤ 20 s och ≤ 3× golvet, utfärda ≤ 20 s + validering ≤ 8 ms/dokument, "
        "tom omkörning ≤ 3 s, topp ≤ 1 GB"
    )
    for r in results:
        assert r["billed"] == r["orders"] and r["rerun_invoices"] == 0, r
        verdicts = [
            ("utkast", r["draft_s"] <= 20),
            ("utfärda", r["issue_s"] - r["validation_s"] <= 20),
            ("validering", r["validation_ms_per_document"] <= 8),
            ("omkörning", r["rerun_s"] <= 3),
            ("× golv", r["draft_s"] / r["floor_s"] <= 3),
            ("minne", r["peak_mb"] <= 1024),
        ]
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.orders, args.accounts, Path(args.data_dir))
        print(json.dumps(result))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-") as temp:
        sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts)]
        results = [
            median_of(
                [
                    run_worker(__file__, backend, [*sizes, "--data-dir", f"{temp}/{backend}-{n}"])
                    for n in range(args.repeat)
                ]
            )
            for backend in backends
        ]
    report(results, args.repeat)


if __name__ == "__main__":
    main()
